% Specifications for the kitchen video (docs/scene-graphs.md).

% True: a person reaches for a cup, holds it, and the cup ends up on a table.
spec(cup_to_table, exists(P, exists(C, category(P, person) and category(C, cup)
    and then([reaches(P, C), holds(P, C), on_table(C)])))).

% False: a person holds a knife and then it falls.
spec(drops_knife, exists(P, exists(K, category(P, person) and category(K, knife)
    and then([holds(P, K), falls(K)])))).

% Ambiguous: a person reaches for the plate and picks it up (the detector is
% unsure).
spec(takes_plate, exists(P, exists(D, category(P, person) and category(D, plate)
    and then([reaches(P, D), holds(P, D)])))).

% A helper rule: the frame is its last argument.
on_table(X, T) :- on(X, Y, T), category(Y, table).
