0.5::edge(1,2). 0.5::edge(2,3). 0.5::edge(3,1). 0.5::edge(2,4).
path(X,Y) :- edge(X,Y).
path(X,Y) :- edge(X,Z), path(Z,Y).
nat(0). nat(s(X)) :- nat(X), X \= s(s(s(_))).
win(X) :- edge(X,Y), \+ win(Y).
query(path(1,4)). query(win(1)). query(nat(s(s(0)))).
