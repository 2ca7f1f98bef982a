% The alarm of ProbLog's tutorial: a burglary or an earthquake sets the
% alarm off; each neighbour may call.
person(john).
person(mary).

0.7::burglary.
0.2::earthquake.
0.9::p_alarm1.
0.8::p_alarm2.
0.1::p_alarm3.

alarm :- burglary, earthquake, p_alarm1.
alarm :- burglary, \+earthquake, p_alarm2.
alarm :- \+burglary, earthquake, p_alarm3.

0.8::calls(X) :- alarm, person(X).
0.1::calls(X) :- \+alarm, person(X).

evidence(calls(john), true).
evidence(calls(mary), true).

query(burglary).
query(earthquake).
