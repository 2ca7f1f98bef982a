:- logic(godel).
0.6::a. 0.3::b.
q :- a, \+ b.
query(q).
query(a and not b).
query(forall X in [1,2]: a).
constraint(a implies b).
