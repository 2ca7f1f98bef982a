person(bernd). person(ingo). person(theo). person(angelika).
person(guy). person(martijn). person(laura). person(kurt).
trusts(X,Y) :- trusts_directed(X,Y).
trusts(X,Y) :- trusts_directed(Y,X).
trusts_directed(bernd,ingo). trusts_directed(ingo,theo). trusts_directed(theo,angelika).
trusts_directed(bernd,martijn). trusts_directed(ingo,martijn). trusts_directed(martijn,guy).
trusts_directed(angelika,laura). trusts_directed(laura,bernd). trusts_directed(laura,kurt).
?::marketed(P) :- person(P).
0.4::buy_from_marketing(_).
0.5::buy_from_trust(_,_).
buys(X) :- marketed(X), buy_from_marketing(X).
buys(X) :- trusts(X,Y), buys(Y), buy_from_trust(X,Y).
utility(buys(P), 5) :- person(P).
utility(marketed(P), -3) :- person(P).
