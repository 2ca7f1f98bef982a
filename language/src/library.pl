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


% library(apply): the goal is called with the items appended (`call/N`).
maplist(_, []).
maplist(G, [X|Xs]) :- call(G, X), maplist(G, Xs).
maplist(_, [], []).
maplist(G, [X|Xs], [Y|Ys]) :- call(G, X, Y), maplist(G, Xs, Ys).
maplist(_, [], [], []).
maplist(G, [X|Xs], [Y|Ys], [Z|Zs]) :- call(G, X, Y, Z), maplist(G, Xs, Ys, Zs).
maplist(_, [], [], [], []).
maplist(G, [X|Xs], [Y|Ys], [Z|Zs], [W|Ws]) :- call(G, X, Y, Z, W), maplist(G, Xs, Ys, Zs, Ws).
maplist(_, [], [], [], [], []).
maplist(G, [X|Xs], [Y|Ys], [Z|Zs], [W|Ws], [V|Vs]) :- call(G, X, Y, Z, W, V), maplist(G, Xs, Ys, Zs, Ws, Vs).

foldl(G, L, V0, V) :- '$apply_foldl'(L, G, V0, V).
'$apply_foldl'([], _, V, V).
'$apply_foldl'([X|Xs], G, V0, V) :- call(G, X, V0, V1), '$apply_foldl'(Xs, G, V1, V).
foldl(G, L1, L2, V0, V) :- '$apply_foldl'(L1, L2, G, V0, V).
'$apply_foldl'([], [], _, V, V).
'$apply_foldl'([X|Xs], [Y|Ys], G, V0, V) :- call(G, X, Y, V0, V1), '$apply_foldl'(Xs, Ys, G, V1, V).
foldl(G, L1, L2, L3, V0, V) :- '$apply_foldl'(L1, L2, L3, G, V0, V).
'$apply_foldl'([], [], [], _, V, V).
'$apply_foldl'([X|Xs], [Y|Ys], [Z|Zs], G, V0, V) :- call(G, X, Y, Z, V0, V1), '$apply_foldl'(Xs, Ys, Zs, G, V1, V).

% The rest of the list first, so that the result is built from bound parts.
include(_, [], []).
include(P, [X|Xs], R) :- include(P, Xs, R1), ( call(P, X) -> R = [X|R1] ; R = R1 ).
exclude(_, [], []).
exclude(P, [X|Xs], R) :- exclude(P, Xs, R1), ( call(P, X) -> R = R1 ; R = [X|R1] ).
partition(_, [], [], []).
partition(P, [X|Xs], I, E) :-
    partition(P, Xs, I1, E1),
    ( call(P, X) -> I = [X|I1], E = E1 ; I = I1, E = [X|E1] ).

% More of library(lists).
list_to_ord_set(L, S) :- sort(L, S).
max_min_list(L, Max, Min) :- max_list(L, Max), min_list(L, Min).
flatten(L, F) :- '$lists_flatten'(L, [], F0), reverse(F0, F).
'$lists_flatten'([], A, A).
'$lists_flatten'([H|T], A, F) :- is_list(H), '$lists_flatten'(H, A, A1), '$lists_flatten'(T, A1, F).
'$lists_flatten'([H|T], A, F) :- \+ is_list(H), '$lists_flatten'(T, [H|A], F).
permutation([], []).
permutation(L, [H|T]) :- select(H, L, R), permutation(R, T).
nextto(X, Y, [X, Y|_]).
nextto(X, Y, [_|T]) :- nextto(X, Y, T).
pairs_keys_values([], [], []).
pairs_keys_values([K-V|T], [K|Ks], [V|Vs]) :- pairs_keys_values(T, Ks, Vs).
pairs_keys([], []).
pairs_keys([K-_|T], [K|Ks]) :- pairs_keys(T, Ks).
pairs_values([], []).
pairs_values([_-V|T], [V|Vs]) :- pairs_values(T, Vs).

% bagof/3 and setof/3 with free variables: the solutions grouped by the
% free variables' values (`'$bag_groups'`), one answer per group.
'$bag_groups'(Pairs, W, L) :- keysort(Pairs, Sorted), '$bag_pick'(Sorted, W, L).
'$bag_pick'([K-V|T], W, L) :- '$bag_same'(K, T, Vs, Rest), '$bag_take'(K, [V|Vs], Rest, W, L).
'$bag_take'(K, Vs, _, K, Vs).
'$bag_take'(_, _, Rest, W, L) :- '$bag_pick'(Rest, W, L).
'$bag_same'(_, [], [], []).
'$bag_same'(K, [K2-V|T], [V|Vs], Rest) :- K2 == K, '$bag_same'(K, T, Vs, Rest).
'$bag_same'(K, [K2-V|T], [], [K2-V|T]) :- K2 \== K.

% More of ProbLog's library(lists).
prefix(P, L) :- append(P, _, L).
selectchk(X, [X|T], T).
selectchk(X, [H|T], [H|R]) :- X \= H, selectchk(X, T, R).
select(X, Xs, Y, Ys) :- '$lists_select4'(Xs, X, Y, Ys).
'$lists_select4'([X|T], X, Y, [Y|T]).
'$lists_select4'([H|T], X, Y, [H|R]) :- '$lists_select4'(T, X, Y, R).
selectchk(X, Xs, Y, Ys) :- '$lists_select4'(Xs, X, Y, Ys).
nth0(I, L, E, R) :- '$lists_nth_rest'(L, 0, I, E, R).
nth1(I, L, E, R) :- '$lists_nth_rest'(L, 1, I, E, R).
'$lists_nth_rest'([H|T], N, N, H, T).
'$lists_nth_rest'([H|T], N0, N, E, [H|R]) :- N1 is N0 + 1, '$lists_nth_rest'(T, N1, N, E, R).
proper_length(L, N) :- is_list(L), length(L, N).
same_length(A, B) :- length(A, N), length(B, N).
is_set(L) :- msort(L, S), sort(L, S).
subset([], _).
subset([X|T], S) :- memberchk(X, S), subset(T, S).

% Probabilistic selection (ProbLog's select_uniform/4 and select_weighted):
% item i of what is left is taken with its weight over the weight left,
% one independent choice per selection ID and position; the last item is
% taken for sure once every earlier one was passed over.
select_uniform(ID, Values, Value, Rest) :-
    length(Values, N), N > 0, W is 1 / N,
    '$lists_weights'(Values, W, Weights),
    select_weighted(ID, Weights, Values, Value, Rest).
select_weighted(ID, Weights, Values, Value, Rest) :-
    sum_list(Weights, Total), Total > 0,
    '$lists_pick'(ID, Total, Weights, Values, Value, Rest).
select_weighted(ID, Pairs, Value, Rest) :-
    '$lists_unzip'(Pairs, Weights, Values),
    select_weighted(ID, Weights, Values, Value, Rest).
'$lists_weights'([], _, []).
'$lists_weights'([_|T], W, [W|Ws]) :- '$lists_weights'(T, W, Ws).
'$lists_unzip'([], [], []).
'$lists_unzip'([(W, V)|T], [W|Ws], [V|Vs]) :- '$lists_unzip'(T, Ws, Vs).
P::'$lists_take'(_, P, _, _, _).
'$lists_pick'(_, _, [_], [X], X, []).
'$lists_pick'(ID, Total, [W|Ws], [X|Xs], X, Xs) :-
    Xs \= [], P is W / Total, '$lists_take'(ID, P, Ws, X, Xs).
'$lists_pick'(ID, Total, [W|Ws], [X|Xs], Y, [X|Rest]) :-
    Xs \= [], P is W / Total, \+ '$lists_take'(ID, P, Ws, X, Xs),
    Left is Total - W, '$lists_pick'(ID, Left, Ws, Xs, Y, Rest).
