% deeplog's library of list predicates, in Prolog: SWI-Prolog's and
% ProbLog's `library(lists)`, linked into a model that calls one of them
% and does not define it (language/src/library.rs). Each works over the
% lists a call gives it (ground ones, or ground enough to bind every head).
% Helper predicates start with `$lists_`.

append([], []).
append([L|Ls], As) :- append(Ls, Ws), append(L, Ws, As).

nth0(I, L, E) :- '$lists_nth'(L, 0, I, E).
nth1(I, L, E) :- '$lists_nth'(L, 1, I, E).
'$lists_nth'([H|_], N, N, H).
'$lists_nth'([_|T], N0, N, E) :- N1 is N0 + 1, '$lists_nth'(T, N1, N, E).

last([X], X).
last([_, Y|T], X) :- last([Y|T], X).

reverse(L, R) :- '$lists_reverse'(L, [], R).
'$lists_reverse'([], A, A).
'$lists_reverse'([H|T], A, R) :- '$lists_reverse'(T, [H|A], R).

sum_list(L, S) :- '$lists_sum'(L, 0, S).
sumlist(L, S) :- '$lists_sum'(L, 0, S).
'$lists_sum'([], S, S).
'$lists_sum'([X|Xs], S0, S) :- S1 is S0 + X, '$lists_sum'(Xs, S1, S).

max_list([H|T], M) :- '$lists_max'(T, H, M).
'$lists_max'([], M, M).
'$lists_max'([X|Xs], M0, M) :- M1 is max(M0, X), '$lists_max'(Xs, M1, M).

min_list([H|T], M) :- '$lists_min'(T, H, M).
'$lists_min'([], M, M).
'$lists_min'([X|Xs], M0, M) :- M1 is min(M0, X), '$lists_min'(Xs, M1, M).

select(X, [X|T], T).
select(X, [H|T], [H|R]) :- select(X, T, R).

% A ground `X` (the usual call) is in the list or not. An unbound one gets
% every member: a call's answers are the atoms of the least model that
% match it, which cannot depend on which call came first.
memberchk(X, L) :- member(X, L).

delete([], _, []).
delete([H|T], X, R) :- H = X, delete(T, X, R).
delete([H|T], X, [H|R]) :- H \= X, delete(T, X, R).


subtract([], _, []).
subtract([H|T], L, R) :- memberchk(H, L), subtract(T, L, R).
subtract([H|T], L, [H|R]) :- \+ memberchk(H, L), subtract(T, L, R).

intersection([], _, []).
intersection([H|T], L, [H|R]) :- memberchk(H, L), intersection(T, L, R).
intersection([H|T], L, R) :- \+ memberchk(H, L), intersection(T, L, R).

union([], L, L).
union([H|T], L, R) :- memberchk(H, L), union(T, L, R).
union([H|T], L, [H|R]) :- \+ memberchk(H, L), union(T, L, R).

list_to_set(L, S) :- '$lists_to_set'(L, [], S).
'$lists_to_set'([], _, []).
'$lists_to_set'([H|T], Seen, R) :- memberchk(H, Seen), '$lists_to_set'(T, Seen, R).
'$lists_to_set'([H|T], Seen, [H|R]) :- \+ memberchk(H, Seen), '$lists_to_set'(T, [H|Seen], R).

numlist(L, H, R) :- L =< H, '$lists_numlist'(L, H, R).
'$lists_numlist'(H, H, [H]).
'$lists_numlist'(L, H, [L|T]) :- L < H, L1 is L + 1, '$lists_numlist'(L1, H, T).

