% Smokers, after ProbLog's classic example: stress makes people smoke, and
% so does a friend who smokes and influences them; smoking may bring asthma.
%
% One file, read in any logic, with no edits:
%
%   deeplog query examples/smokers/smokers.pl                       % probability (the default)
%   deeplog query examples/smokers/smokers.pl --logic godel
%   deeplog query examples/smokers/smokers.pl --logic product
%   deeplog query examples/smokers/smokers.pl --logic lukasiewicz
%
% In the probability logic the annotations are probabilities of independent
% choices and every answer is exact. In a fuzzy logic they are truth values:
% a rule makes its head at least as true as its body (the t-norm of the
% body's truths), and a derived atom is as true as its best derivation.
% The friendship cycle between jonas and joris is fine in every logic.

person(angelika). person(joris). person(jonas). person(dimitar).

friend(joris, jonas). friend(joris, angelika). friend(joris, dimitar).
friend(angelika, jonas). friend(jonas, joris).

0.3::stress(X) :- person(X).
0.2::influences(X, Y) :- person(X), person(Y).

smokes(X) :- stress(X).
smokes(X) :- friend(X, Y), influences(Y, X), smokes(Y).

0.4::asthma(X) :- smokes(X).

query(smokes(angelika)).
query(smokes(joris)).
query(asthma(angelika)).
% Formulas need no extra rules: is anyone asthmatic, and does everyone's
% smoking come with asthma?
query(exists(X in person, asthma(X))).
query(forall(X in person, smokes(X) implies asthma(X))).
