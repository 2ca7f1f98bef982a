% Probabilistic reachability in a small directed graph with cycles.
% Each edge is present independently with its probability; path/2 is the
% transitive closure. deeplog answers exactly, cycles included.
0.6::edge(1, 2).
0.1::edge(1, 3).
0.4::edge(2, 5).
0.3::edge(2, 6).
0.3::edge(3, 4).
0.8::edge(4, 5).
0.2::edge(5, 6).
0.5::edge(5, 1).   % back to the start: a cycle

path(X, Y) :- edge(X, Y).
path(X, Y) :- edge(X, Z), path(Z, Y).

query(path(1, 5)).
query(path(1, 6)).
query(path(5, 5)).
