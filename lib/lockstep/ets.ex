defmodule Lockstep.ETS do
  @moduledoc """
  `:ets` with every operation a sync point, so races on tables are explored like races on
  messages.

      table = Lockstep.ETS.new(:cache, [:set, :public, :named_table])
      Lockstep.ETS.insert(:cache, {:hits, 0})
      Lockstep.ETS.update_counter(:cache, :hits, 1)
      #=> 1

  Each function takes the same arguments as its `:ets` namesake and returns the same result,
  exceptions included (`ArgumentError` for a missing table, a bad key position, ...). Inside a
  run, the calling process first waits for its turn at a sync point, then performs the real
  `:ets` operation at once: between two operations of one process, others may run, exactly as
  on a busy VM, but each operation is atomic, as in ETS. Outside a run every function calls
  `:ets` directly, so code written against `Lockstep.ETS` runs normally in production.

  ## What the trace records

  Each operation is recorded with a label naming the table and, for an operation on one key,
  the key: `{:ets, :lookup, :cache, :hits}`, and for a write of one object the object too:
  `{:ets, :insert, :cache, :hits, {:hits, 3}}`; a whole-table operation has no key:
  `{:ets, :tab2list, :cache}`. Operations on one key are the key's object (see
  `Lockstep.SharedState`); `new`, `delete/1`, `delete_all_objects`, `insert` of several
  objects, `tab2list`, `first`/`next`/`last`/`prev`, `foldl`/`foldr`, `match*`, `select*`,
  `info`, `setopts`, `rename` and `give_away` touch the whole table. Mutations are writes.
  Tables are identified by their name (the atom given to `new/2`, named or not), so two
  unnamed tables created with the same name count as one object for scheduling purposes.

  ## Tables belong to the run

  A table is owned by the managed process that created it, as in OTP, and is deleted when that
  process ends. When an iteration ends, its processes are gone before the next iteration
  starts, so a named table never leaks from one iteration into the next. To keep that true:

    * inside a run, `give_away/3` and the `{:heir, pid, data}` option of `new/2` and
      `setopts/2` only accept processes of the same run (anything else raises
      `ArgumentError`); `give_away/3` is a sync point, and the new owner also receives the
      `{:"ETS-TRANSFER", table, from, gift}` message through `Lockstep.recv/0`;
    * when an owner ends by returning, raising or exiting, its tables are deleted at its last
      step (recorded as `{:ets, :owner_exit, table}`), or handed to the heir set with
      `Lockstep.ETS` (recorded as `{:ets, :heir_transfer, table}`, the heir receiving
      `{:"ETS-TRANSFER", table, owner, heir_data}` through `Lockstep.recv/0`).

  Tables created outside the run (by the application, say) can be used inside it like any
  other, each operation a sync point; they do not belong to the run, so what a run writes into
  them stays after it.

  ## Names belong to the run

  Inside a run, `new/2` with `:named_table` does not take a name of the whole VM: the table is
  created without one and the name goes into the run's own names, as `Lockstep.register/2`
  names processes for the run only. Every function of this module that takes a table looks a
  name up there first (once the operation's turn has come, so it finds the table that has the
  name at that step of the schedule). So, as in OTP:

    * `new/2` returns the name; creating a name the run already gave raises the
      `ArgumentError` that `:ets.new/2` raises;
    * `whereis/1` returns the table's identifier, `info/2` gives the name for `:name` and
      `true` for `:named_table`, and the table answers to its name and to its identifier;
    * `rename/2` moves the name (raising as OTP does when the new one is taken), `delete/1`
      frees it, and so does the end of the table's owner; a heir inherits it with the table.

  Two runs at once (two `async: true` ctests, two `Lockstep.Runner.run/2` in parallel tasks)
  can each create a table of the same name, and so each can start a `Lockstep.Registry` of the
  same name. A name the run has not given stands for the VM table of that name, if there is
  one (the application's, say); a name the run gave hides it from the run.

  The names are kept in one public table for all runs, keyed by the iteration's tag (part of
  the context every process of the iteration carries, new in each iteration), owned by a
  process of its own that the first run to name a table starts and that nothing is linked to,
  so it outlives that run. Once an iteration's processes are gone the runner removes its names
  (`Lockstep.SharedState.on_cleanup/2`), as it deletes its tables. The alternatives are worse:
  a process dictionary is not seen by the other processes of the run, a persistent term would
  make each such iteration pay a garbage collection of every process when erased, a generated
  atom per table would never be freed, and the engine would need changing for state that only
  this module reads. Looking a name up costs one read of that table, less than the operation
  it precedes; scheduling still depends only on names (see above), so runs stay deterministic.

  ## Differences from OTP

    * A name given inside a run is known only to this module, in the run's processes: `:ets`
      called directly, a process outside the run, and `:ets.all/0` see a table without a name
      (`:ets.info(table, :named_table)` is `false`), and a table of the same name can exist
      in the VM or in another run at the same time.
    * When an owner is killed by an exit signal (a link, `Lockstep.exit/2`), the VM performs
      the heir transfer itself: the table does reach the heir, but the `:"ETS-TRANSFER"`
      message is a plain VM message that `Lockstep.recv/0` does not see (and it names a
      table named in the run by its identifier). Likewise for a heir set by a former owner
      before a `give_away/3`.
    * `foldl/3` and `foldr/3` are one sync point, taken before the fold starts; the fold
      itself is the plain `:ets` fold.
  """

  alias Lockstep.{RunSpace, Runtime, SharedState}

  # Whether this process created a table (and so may own one at its end).
  @uses_key :"$lockstep_ets_used"
  # The processes of each run that were given a table or made a heir: they may own one too.
  @owners :"$lockstep_ets_owners"
  @names :"$lockstep_ets_names"
  @heirs_key :"$lockstep_ets_heirs"

  @typedoc "A table: its name or its identifier."
  @type table :: atom() | :ets.tid()

  # ----- creating and deleting tables --------------------------------------------------------

  @doc "Creates a table, as `:ets.new/2`. Inside a run the caller owns it (see the moduledoc)."
  @spec new(atom(), list()) :: table()
  def new(name, options) do
    case Runtime.ctx() do
      nil ->
        :ets.new(name, options)

      ctx ->
        heir = check_heir!(ctx, options)
        touch(ctx, {:ets, name}, nil, true, {:ets, :new, name})
        Process.put(@uses_key, true)

        if named_option?(options) do
          new_named(ctx, name, options, heir)
        else
          table = :ets.new(name, options)
          remember_heir(table, heir)
          table
        end
    end
  end

  # A named table of the run: a table without a VM name, under `name` in the run's names.
  defp new_named(ctx, name, options, heir) do
    unnamed = for option <- options, option != :named_table, do: option

    tid =
      try do
        :ets.new(name, unnamed)
      catch
        :error, reason ->
          :erlang.raise(:error, reason, as_called(__STACKTRACE__, [name, options]))
      end

    case claim(ctx, name, tid) do
      :ok ->
        remember_heir(tid, heir)
        name

      :taken ->
        :ets.delete(tid)

        badarg(
          {:ets, :new, [name, options],
           [error_info: %{cause: :already_exists, module: :erl_stdlib_errors}]}
        )
    end
  end

  defp named_option?([:named_table | _]), do: true
  defp named_option?([_ | rest]), do: named_option?(rest)
  defp named_option?(_), do: false

  @doc "Deletes a whole table, as `:ets.delete/1`."
  @spec delete(table()) :: true
  def delete(table) do
    case Runtime.ctx() do
      nil ->
        forget_heir(table)
        :ets.delete(table)

      ctx ->
        tid = whole(table, true, :delete)
        name = run_name(ctx, tid)
        forget_heir(tid)
        result = real(table, tid, &:ets.delete/1)
        if name != nil, do: unmap(ctx, name)
        result
    end
  end

  @doc "Renames a named table, as `:ets.rename/2`."
  @spec rename(table(), atom()) :: atom()
  def rename(table, name) do
    case Runtime.ctx() do
      nil ->
        :ets.rename(table, name)

      ctx ->
        tid = whole(table, true, :rename)

        case run_name(ctx, tid) do
          nil -> real(table, tid, &:ets.rename(&1, name))
          old -> rename_in_run(ctx, table, tid, old, name)
        end
    end
  end

  # As for a VM-named table, the new name must be free (in the run's names) and an atom.
  defp rename_in_run(ctx, table, tid, old, name) do
    if is_atom(name) and lookup_name(ctx, name) != nil do
      badarg({:ets, :rename, [table, name], [error_info: %{module: :erl_stdlib_errors}]})
    end

    real(table, tid, &:ets.rename(&1, name))
    unmap(ctx, old)
    :ok = claim(ctx, name, tid)
    name
  end

  @doc """
  Makes `pid` the owner of the table, as `:ets.give_away/3`. Inside a run `pid` must belong to
  the run; it also receives the `{:"ETS-TRANSFER", table, from, gift}` message through
  `Lockstep.recv/0`.
  """
  @spec give_away(table(), pid(), term()) :: true
  def give_away(table, pid, gift) do
    case Runtime.ctx() do
      nil ->
        :ets.give_away(table, pid, gift)

      ctx ->
        check_managed!(ctx, pid, "give_away/3")
        touch(ctx, identity(table), nil, true, {:ets, :give_away, table})
        tid = resolve(ctx, table)
        true = real(table, tid, &:ets.give_away(&1, pid, gift))
        Lockstep.send(pid, {:"ETS-TRANSFER", transfer_id(ctx, tid), self(), gift})
        true
    end
  end

  @doc "Sets table options (`:heir`), as `:ets.setopts/2`. Inside a run a heir must be managed."
  @spec setopts(table(), tuple() | [tuple()]) :: true
  def setopts(table, opts) do
    case Runtime.ctx() do
      nil ->
        :ets.setopts(table, opts)

      ctx ->
        opts_list = List.wrap(opts)
        heir = check_heir!(ctx, opts_list)
        touch(ctx, identity(table), nil, true, {:ets, :setopts, table})
        tid = resolve(ctx, table)
        result = real(table, tid, &:ets.setopts(&1, opts))
        if Enum.any?(opts_list, &match?({:heir, _, _}, &1)), do: remember_heir(tid, heir)
        if {:heir, :none} in opts_list, do: forget_heir(tid)
        result
    end
  end

  # ----- writes --------------------------------------------------------------------------------

  @doc "Inserts one object or a list of objects, as `:ets.insert/2`."
  @spec insert(table(), tuple() | [tuple()]) :: true
  def insert(table, objects) do
    tid = objects(table, objects, :insert)
    real(table, tid, &:ets.insert(&1, objects))
  end

  @doc "Inserts unless a key is already present, as `:ets.insert_new/2`."
  @spec insert_new(table(), tuple() | [tuple()]) :: boolean()
  def insert_new(table, objects) do
    tid = objects(table, objects, :insert_new)
    real(table, tid, &:ets.insert_new(&1, objects))
  end

  @doc "Deletes the objects with `key`, as `:ets.delete/2`."
  @spec delete(table(), term()) :: true
  def delete(table, key) do
    tid = keyed(table, key, true, :delete)
    real(table, tid, &:ets.delete(&1, key))
  end

  @doc "Deletes one exact object, as `:ets.delete_object/2`."
  @spec delete_object(table(), tuple()) :: true
  def delete_object(table, object) do
    tid = objects(table, object, :delete_object)
    real(table, tid, &:ets.delete_object(&1, object))
  end

  @doc "Deletes every object, as `:ets.delete_all_objects/1`."
  @spec delete_all_objects(table()) :: true
  def delete_all_objects(table) do
    tid = whole(table, true, :delete_all_objects)
    real(table, tid, &:ets.delete_all_objects(&1))
  end

  @doc "Removes and returns the objects with `key`, as `:ets.take/2`."
  @spec take(table(), term()) :: [tuple()]
  def take(table, key) do
    tid = keyed(table, key, true, :take)
    real(table, tid, &:ets.take(&1, key))
  end

  @doc "Updates counters in the object with `key`, as `:ets.update_counter/3`."
  @spec update_counter(table(), term(), term()) :: integer() | [integer()]
  def update_counter(table, key, op) do
    tid = keyed(table, key, true, :update_counter)
    real(table, tid, &:ets.update_counter(&1, key, op))
  end

  @doc "Like `update_counter/3`, inserting `default` first if `key` is absent."
  @spec update_counter(table(), term(), term(), tuple()) :: integer() | [integer()]
  def update_counter(table, key, op, default) do
    tid = keyed(table, key, true, :update_counter)
    real(table, tid, &:ets.update_counter(&1, key, op, default))
  end

  @doc "Replaces elements of the object with `key`, as `:ets.update_element/3`."
  @spec update_element(table(), term(), tuple() | [tuple()]) :: boolean()
  def update_element(table, key, element_spec) do
    tid = keyed(table, key, true, :update_element)
    real(table, tid, &:ets.update_element(&1, key, element_spec))
  end

  @doc "Deletes the objects matching `pattern`, as `:ets.match_delete/2`."
  @spec match_delete(table(), term()) :: true
  def match_delete(table, pattern) do
    tid = whole(table, true, :match_delete)
    real(table, tid, &:ets.match_delete(&1, pattern))
  end

  @doc "Deletes the objects a match specification selects, as `:ets.select_delete/2`."
  @spec select_delete(table(), :ets.match_spec()) :: non_neg_integer()
  def select_delete(table, spec) do
    tid = whole(table, true, :select_delete)
    real(table, tid, &:ets.select_delete(&1, spec))
  end

  @doc "Replaces the objects a match specification selects, as `:ets.select_replace/2`."
  @spec select_replace(table(), :ets.match_spec()) :: non_neg_integer()
  def select_replace(table, spec) do
    tid = whole(table, true, :select_replace)
    real(table, tid, &:ets.select_replace(&1, spec))
  end

  # ----- reads ---------------------------------------------------------------------------------

  @doc "The objects with `key`, as `:ets.lookup/2`."
  @spec lookup(table(), term()) :: [tuple()]
  def lookup(table, key) do
    tid = keyed(table, key, false, :lookup)
    noted(real(table, tid, &:ets.lookup(&1, key)))
  end

  @doc "Element `pos` of the object(s) with `key`, as `:ets.lookup_element/3`."
  @spec lookup_element(table(), term(), pos_integer()) :: term()
  def lookup_element(table, key, pos) do
    tid = keyed(table, key, false, :lookup_element)
    noted(real(table, tid, &:ets.lookup_element(&1, key, pos)))
  end

  @doc "Whether an object with `key` exists, as `:ets.member/2`."
  @spec member(table(), term()) :: boolean()
  def member(table, key) do
    tid = keyed(table, key, false, :member)
    noted(real(table, tid, &:ets.member(&1, key)))
  end

  @doc "All objects, as `:ets.tab2list/1`."
  @spec tab2list(table()) :: [tuple()]
  def tab2list(table) do
    tid = whole(table, false, :tab2list)
    real(table, tid, &:ets.tab2list(&1))
  end

  @doc "The first key, as `:ets.first/1`."
  @spec first(table()) :: term()
  def first(table) do
    tid = whole(table, false, :first)
    real(table, tid, &:ets.first(&1))
  end

  @doc "The key after `key`, as `:ets.next/2`."
  @spec next(table(), term()) :: term()
  def next(table, key) do
    tid = whole(table, false, :next)
    real(table, tid, &:ets.next(&1, key))
  end

  @doc "The last key, as `:ets.last/1`."
  @spec last(table()) :: term()
  def last(table) do
    tid = whole(table, false, :last)
    real(table, tid, &:ets.last(&1))
  end

  @doc "The key before `key`, as `:ets.prev/2`."
  @spec prev(table(), term()) :: term()
  def prev(table, key) do
    tid = whole(table, false, :prev)
    real(table, tid, &:ets.prev(&1, key))
  end

  @doc "Folds over the table, as `:ets.foldl/3` (one sync point before the fold)."
  @spec foldl((tuple(), acc -> acc), acc, table()) :: acc when acc: term()
  def foldl(fun, acc, table) do
    tid = whole(table, false, :foldl)
    real(table, tid, &:ets.foldl(fun, acc, &1))
  end

  @doc "Folds over the table, as `:ets.foldr/3` (one sync point before the fold)."
  @spec foldr((tuple(), acc -> acc), acc, table()) :: acc when acc: term()
  def foldr(fun, acc, table) do
    tid = whole(table, false, :foldr)
    real(table, tid, &:ets.foldr(fun, acc, &1))
  end

  @doc "Matches `pattern`, as `:ets.match/2`."
  @spec match(table(), term()) :: [list()]
  def match(table, pattern) do
    tid = whole(table, false, :match)
    real(table, tid, &:ets.match(&1, pattern))
  end

  @doc "Matches `pattern` in chunks of `limit`, as `:ets.match/3`."
  @spec match(table(), term(), pos_integer()) :: {[list()], term()} | :"$end_of_table"
  def match(table, pattern, limit) do
    tid = whole(table, false, :match)
    real(table, tid, &:ets.match(&1, pattern, limit))
  end

  @doc "Continues a chunked match, as `:ets.match/1`."
  @spec match(term()) :: {[list()], term()} | :"$end_of_table"
  def match(continuation) do
    continued(continuation, :match)
    :ets.match(continuation)
  end

  @doc "The objects matching `pattern`, as `:ets.match_object/2`."
  @spec match_object(table(), term()) :: [tuple()]
  def match_object(table, pattern) do
    tid = whole(table, false, :match_object)
    real(table, tid, &:ets.match_object(&1, pattern))
  end

  @doc "Matching objects in chunks of `limit`, as `:ets.match_object/3`."
  @spec match_object(table(), term(), pos_integer()) :: {[tuple()], term()} | :"$end_of_table"
  def match_object(table, pattern, limit) do
    tid = whole(table, false, :match_object)
    real(table, tid, &:ets.match_object(&1, pattern, limit))
  end

  @doc "Continues a chunked `match_object/3`, as `:ets.match_object/1`."
  @spec match_object(term()) :: {[tuple()], term()} | :"$end_of_table"
  def match_object(continuation) do
    continued(continuation, :match_object)
    :ets.match_object(continuation)
  end

  @doc "Selects with a match specification, as `:ets.select/2`."
  @spec select(table(), :ets.match_spec()) :: [term()]
  def select(table, spec) do
    tid = whole(table, false, :select)
    real(table, tid, &:ets.select(&1, spec))
  end

  @doc "Selects in chunks of `limit`, as `:ets.select/3`."
  @spec select(table(), :ets.match_spec(), pos_integer()) :: {[term()], term()} | :"$end_of_table"
  def select(table, spec, limit) do
    tid = whole(table, false, :select)
    real(table, tid, &:ets.select(&1, spec, limit))
  end

  @doc "Continues a chunked select, as `:ets.select/1`."
  @spec select(term()) :: {[term()], term()} | :"$end_of_table"
  def select(continuation) do
    continued(continuation, :select)
    :ets.select(continuation)
  end

  @doc "Selects in reverse order, as `:ets.select_reverse/2`."
  @spec select_reverse(table(), :ets.match_spec()) :: [term()]
  def select_reverse(table, spec) do
    tid = whole(table, false, :select_reverse)
    real(table, tid, &:ets.select_reverse(&1, spec))
  end

  @doc "Counts the objects a match specification accepts, as `:ets.select_count/2`."
  @spec select_count(table(), :ets.match_spec()) :: non_neg_integer()
  def select_count(table, spec) do
    tid = whole(table, false, :select_count)
    real(table, tid, &:ets.select_count(&1, spec))
  end

  @doc """
  Information about a table, as `:ets.info/1`. A table named inside a run says
  `named_table: true`.
  """
  @spec info(table()) :: [tuple()] | :undefined
  def info(table) do
    tid = whole(table, false, :info)

    case real(table, tid, &:ets.info(&1)) do
      items when is_list(items) ->
        if run_named?(tid),
          do: List.keyreplace(items, :named_table, 0, {:named_table, true}),
          else: items

      other ->
        other
    end
  end

  @doc """
  One item of information about a table, as `:ets.info/2`. For a table named inside a run,
  `:name` is the name it was given (or renamed to) and `:named_table` is `true`.
  """
  @spec info(table(), atom()) :: term()
  def info(table, item) do
    tid = whole(table, false, :info)

    case real(table, tid, &:ets.info(&1, item)) do
      false when item == :named_table -> run_named?(tid)
      result -> result
    end
  end

  @doc """
  The identifier of a named table, or `:undefined`, as `:ets.whereis/1`. Inside a run, a name
  the run gave a table stands for that table.
  """
  @spec whereis(atom()) :: :ets.tid() | :undefined
  def whereis(name) do
    case Runtime.ctx() do
      nil ->
        :ets.whereis(name)

      ctx ->
        touch(ctx, {:ets, name}, nil, false, {:ets, :whereis, name})

        case resolve(ctx, name) do
          ^name -> :ets.whereis(name)
          tid -> tid
        end
    end
  end

  # ----- sync points ---------------------------------------------------------------------------

  # A keyed read's result, noted in the trace (inside a run) so the report shows what it saw.
  defp noted(result) do
    case Runtime.ctx() do
      nil -> result
      ctx -> Runtime.annotate(ctx, result) && result
    end
  end

  # Each returns the table to perform the real operation on: inside a run, the one `table`
  # stands for once the operation's turn has come (see `resolve/2`).

  defp keyed(table, key, write, op) do
    case Runtime.ctx() do
      nil ->
        table

      ctx ->
        touch(ctx, identity(table), {:key, key}, write, {:ets, op, table, key})
        resolve(ctx, table)
    end
  end

  defp whole(table, write, op) do
    case Runtime.ctx() do
      nil ->
        table

      ctx ->
        touch(ctx, identity(table), nil, write, {:ets, op, table})
        resolve(ctx, table)
    end
  end

  # insert/insert_new/delete_object: one object is an operation on its key; several objects
  # (or something that is not an object, which the real call rejects) touch the whole table.
  defp objects(table, objects, op) do
    case Runtime.ctx() do
      nil ->
        table

      ctx ->
        case key_of(resolve(ctx, table), objects) do
          # The object itself is in the label, so the report shows what was written.
          {:key, key} ->
            touch(ctx, identity(table), {:key, key}, true, {:ets, op, table, key, objects})

          :whole ->
            touch(ctx, identity(table), nil, true, {:ets, op, table})
        end

        resolve(ctx, table)
    end
  end

  defp continued(continuation, op) do
    case Runtime.ctx() do
      nil ->
        :ok

      ctx ->
        table =
          case continuation do
            cont when is_tuple(cont) and tuple_size(cont) > 0 -> elem(cont, 0)
            _ -> :"$end_of_table"
          end

        touch(ctx, identity(table), nil, false, {:ets, op, table})
    end
  end

  defp touch(ctx, identity, key, write, label) do
    object =
      case key do
        nil -> SharedState.object(identity)
        {:key, k} -> SharedState.object(identity, k)
      end

    SharedState.step(ctx, object, write, label)
  end

  defp key_of(table, [object]), do: key_of(table, object)

  defp key_of(table, object) when is_tuple(object) do
    case safe_info(table, :keypos) do
      pos when is_integer(pos) and tuple_size(object) >= pos -> {:key, elem(object, pos - 1)}
      _ -> :whole
    end
  end

  defp key_of(_table, _objects), do: :whole

  # ----- the run's table names -----------------------------------------------------------------

  @doc false
  # The table that `table` stands for in the run of `ctx`: the run's table when `table` is a
  # name the run gave a live table, otherwise `table` itself (an identifier, or the VM name of
  # a table created outside the run, or nothing, which the real call then rejects).
  @spec resolve(Runtime.ctx() | nil, term()) :: term()
  def resolve(nil, table), do: table

  def resolve(ctx, table) when is_atom(table) do
    case lookup_name(ctx, table) do
      nil -> table
      tid -> tid
    end
  end

  def resolve(_ctx, table), do: table

  # The live table the run knows as `name`, or nil. An entry whose table is gone (its owner
  # was killed, say) names nothing: the name is free again, as in the VM.
  defp lookup_name(ctx, name) do
    case :ets.lookup(@names, {space(ctx), name}) do
      [{_, tid}] -> if :ets.info(tid, :id) != :undefined, do: tid
      [] -> nil
    end
  rescue
    # No run has named a table yet.
    ArgumentError -> nil
  end

  # The name under which the run knows table `tid`, or nil when it is not a table the run
  # named (an unnamed table, or one named outside the run).
  defp run_name(ctx, tid) when is_reference(tid) do
    name = safe_info(tid, :name)
    if is_atom(name) and lookup_name(ctx, name) == tid, do: name
  end

  defp run_name(_ctx, _table), do: nil

  defp run_named?(tid) do
    case Runtime.ctx() do
      nil -> false
      ctx -> run_name(ctx, tid) != nil
    end
  end

  # Whose names a table's name is looked up among: the iteration's (see Lockstep.RunSpace).
  defp space(ctx), do: RunSpace.space(ctx)

  # Gives `tid` the name `name` in the run, unless a live table has it.
  defp claim(ctx, name, tid) do
    space = RunSpace.open(@names, ctx)

    cond do
      :ets.insert_new(@names, {{space, name}, tid}) -> :ok
      lookup_name(ctx, name) == nil -> :ets.insert(@names, {{space, name}, tid}) && :ok
      true -> :taken
    end
  end

  defp unmap(ctx, name) do
    :ets.delete(@names, {space(ctx), name})
  rescue
    ArgumentError -> true
  end

  # The table as the `{:"ETS-TRANSFER", table, from, gift}` message names it: a named table
  # by its name, any other by its identifier.
  defp transfer_id(ctx, tid) do
    cond do
      name = run_name(ctx, tid) -> name
      safe_info(tid, :named_table) == true -> safe_info(tid, :name)
      true -> tid
    end
  end

  # Performs the real operation on `tid`, the table that `table` stands for. An exception is
  # raised as if the operation had been given `table`, so that it reads as OTP's.
  defp real(table, table, fun), do: fun.(table)

  defp real(table, tid, fun) do
    fun.(tid)
  catch
    :error, reason ->
      args = fn args -> Enum.map(args, &if(&1 === tid, do: table, else: &1)) end
      :erlang.raise(:error, reason, as_called(__STACKTRACE__, args))
  end

  # The stacktrace with the arguments of its innermost `:ets` call replaced (by `args`, or by
  # `args.(original)`).
  defp as_called([{:ets, fun, original, info} | rest], args) when is_list(original) do
    new = if is_function(args, 1), do: args.(original), else: args
    [{:ets, fun, new, info} | rest]
  end

  defp as_called(stack, _args), do: stack

  defp badarg(frame) do
    {:current_stacktrace, [_ | callers]} = Process.info(self(), :current_stacktrace)
    :erlang.raise(:error, :badarg, [frame | callers])
  end

  # A table's identity for scheduling: its name, which is the same in every run (a table
  # identifier is not). A table that does not exist is identified by what the caller passed;
  # the real call then raises.
  defp identity(table) when is_atom(table), do: {:ets, table}

  defp identity(table) do
    case safe_info(table, :name) do
      name when is_atom(name) and name != :undefined -> {:ets, name}
      _ -> {:ets, :"$unknown"}
    end
  end

  defp safe_info(table, item) do
    :ets.info(table, item)
  rescue
    ArgumentError -> :undefined
  end

  # ----- ownership -----------------------------------------------------------------------------

  defp check_heir!(ctx, options) when is_list(options) do
    Enum.reduce(options, nil, fn
      {:heir, pid, data}, _ when is_pid(pid) ->
        check_managed!(ctx, pid, "the :heir option")
        {pid, data}

      {:heir, :none}, _ ->
        nil

      _, acc ->
        acc
    end)
  end

  defp check_heir!(_ctx, _options), do: nil

  defp check_managed!({run, _tag, _id, _runner} = ctx, pid, what) do
    managed = Enum.any?(Lockstep.Native.run_procs(run), &match?({_, ^pid, _, _}, &1))

    unless managed do
      raise ArgumentError,
            "#{what} inside a Lockstep run needs a process of the same run, got #{inspect(pid)}: " <>
              "a table owned by a process outside the run would outlive the iteration"
    end

    # It may own a table at its end.
    space = RunSpace.open(@owners, ctx)
    :ets.insert(@owners, {{space, pid}, true})
  end

  # Whether this process may own a table of the run at its end: it created one, was given one
  # or was made a heir (only those look through the VM's tables at their end).
  defp may_own?(ctx) do
    Process.get(@uses_key) == true or
      (:ets.whereis(@owners) != :undefined and RunSpace.fetch(@owners, ctx, self()) != :error)
  end

  defp remember_heir(_table, nil), do: :ok

  # Heirs set through this module, by table identifier (`:ets.all/0` names named tables by
  # their name, so the identifier is what both sides agree on).
  defp remember_heir(table, heir) do
    heirs = Process.get(@heirs_key, %{})
    Process.put(@heirs_key, Map.put(heirs, safe_info(table, :id), heir))
  end

  defp forget_heir(table) do
    case Process.get(@heirs_key) do
      nil -> :ok
      heirs -> Process.put(@heirs_key, Map.delete(heirs, safe_info(table, :id)))
    end
  end

  @doc false
  # Called by a managed process at its last step, before its exit is announced: deletes the
  # tables it owns, or hands them to their heir, as the VM would at the process's end, but at
  # a step of the schedule instead of whenever the VM process happens to finish.
  @spec release_owned(Runtime.ctx()) :: :ok
  def release_owned(ctx) do
    if may_own?(ctx) do
      SharedState.settle(ctx)
      me = self()
      heirs = Process.get(@heirs_key, %{})

      # One sync point per table, in an order fixed by the tables' names: `:ets.all/0` lists
      # tables in the VM's internal order, which the schedule does not decide.
      for table <- :ets.all(), safe_info(table, :owner) == me do
        {identity(table), table}
      end
      |> Enum.sort_by(&elem(&1, 0))
      |> Enum.each(fn {_id, table} ->
        release(ctx, table, safe_info(table, :heir), Map.get(heirs, safe_info(table, :id)))
      end)
    end

    :ok
  end

  defp release(ctx, table, heir, known) do
    id = identity(table)
    name = safe_info(table, :name)

    case {heir, known} do
      {:none, _} ->
        touch(ctx, id, nil, true, {:ets, :owner_exit, name})
        drop(ctx, table)

      {pid, {pid, data}} when is_pid(pid) ->
        touch(ctx, id, nil, true, {:ets, :heir_transfer, name})

        if Process.alive?(pid) do
          transfer = transfer_id(ctx, table)
          :ets.give_away(table, pid, data)
          Lockstep.send(pid, {:"ETS-TRANSFER", transfer, self(), data})
        else
          drop(ctx, table)
        end

      _set_elsewhere ->
        # A heir this process did not set through Lockstep.ETS: the VM hands the table over.
        :ok
    end
  end

  # Deletes a released table, and its name in the run if it had one.
  defp drop(ctx, table) do
    name = run_name(ctx, table)
    :ets.delete(table)
    if name != nil, do: unmap(ctx, name)
  end
end
