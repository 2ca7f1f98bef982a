% An LTN-style model: the truth of every `smokes` and `cancer` fact is a
% parameter (`t(0.5)::`, learnable, starting at 0.5), and quantified axioms
% say how they should relate. `examples/ltn/ltn.rs` finds truth values that
% satisfy the axioms by gradient descent on the loss of the constraints,
% in the product logic (as Logic Tensor Networks do), through the same
% formula circuit that `deeplog query` evaluates.
%
%   cargo run --release --example ltn
%   deeplog query examples/ltn/ltn.pl          % the axioms' truth at the start

:- logic(product).

person(ann). person(bob). person(cat). person(dan). person(eve).
friend(ann, bob). friend(bob, cat). friend(cat, dan). friend(eve, dan).

t(0.5)::smokes(ann). t(0.5)::smokes(bob). t(0.5)::smokes(cat). t(0.5)::smokes(dan). t(0.5)::smokes(eve).
t(0.5)::cancer(ann). t(0.5)::cancer(bob). t(0.5)::cancer(cat). t(0.5)::cancer(dan). t(0.5)::cancer(eve).

% Observations.
constraint(smokes(ann)).
constraint(not smokes(eve)).
constraint(not cancer(eve)).
% Friends of smokers smoke; smoking causes cancer (soft, LTN's p-mean
% error as the universal quantifier, p = 2).
0.5::constraint(pmean_error(X in person, pmean_error(Y in person, (friend(X, Y) and smokes(X)) implies smokes(Y), 2), 2)).
constraint(pmean_error(X in person, smokes(X) implies cancer(X), 2)).
% Not everyone has cancer.
constraint(exists(X in person, not cancer(X))).

query(smokes(dan)).
query(cancer(dan)).
query(forall(X in person, smokes(X) implies cancer(X))).
