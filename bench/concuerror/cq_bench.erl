%% The programs of bench/concuerror.exs, in Erlang, for Concuerror (see bench/README.md).
-module(cq_bench).
-export([readers10/0, readers12/0, senders6/0, senders7/0, tagged6/0]).

%% One writer and N readers of an ETS table; the owner of the table waits for every process,
%% each by its tag. 2^N classes.
readers(N) ->
    Me = self(),
    ets:new(tab, [public, named_table]),
    Writer = fun() -> ets:insert(tab, {x, 42}), Me ! {done, 0} end,
    Reader = fun(I) -> ets:lookup(tab, I), ets:lookup(tab, x), Me ! {done, I} end,
    spawn(Writer),
    [spawn(fun() -> Reader(I) end) || I <- lists:seq(1, N)],
    [receive {done, I} -> ok end || I <- lists:seq(0, N)],
    ok.

readers10() -> readers(10).
readers12() -> readers(12).

%% N processes each send the root one message; the root takes them in arrival order. N!
%% classes.
senders(N) ->
    Me = self(),
    [spawn(fun() -> Me ! K end) || K <- lists:seq(1, N)],
    [receive M -> M end || _ <- lists:seq(1, N)],
    ok.

senders6() -> senders(6).
senders7() -> senders(7).

%% N processes each send the root a tagged message; the root takes them by tag. One class.
tagged(N) ->
    Me = self(),
    [spawn(fun() -> Me ! {from, K} end) || K <- lists:seq(1, N)],
    [receive {from, K} -> K end || K <- lists:seq(1, N)],
    ok.

tagged6() -> tagged(6).
