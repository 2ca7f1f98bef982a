% A little of everything the language has.
0.3::a; 0.5::b; 0.2::c.
t(0.4)::d.
0.6::e(1). 0.7::e(2).
f(X) :- e(X), \+ d.
g(N) :- between(1, 3, N), M is N * 2 + 1, M > 3.
h(L) :- L = [1,2,3], length(L, 3).
p :- a, f(1).
p :- b ; c.
query(p). query(f(X)). query(g(N)). query(h(_)).
evidence(e(2), true).
