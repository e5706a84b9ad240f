
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'mp' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'mp'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'mp' {
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('map', 'map', [CompletionResultType]::ParameterValue, 'Run a command for every input record, in parallel (see mp map --help)')
            [CompletionResult]::new('info', 'info', [CompletionResultType]::ParameterValue, 'Print what mp knows about this machine: CPU counts and start methods')
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Accept framed messages from CPython''s Client (or mp client) and print them, or bridge them to a command (see mp listen --help)')
            [CompletionResult]::new('client', 'client', [CompletionResultType]::ParameterValue, 'Send stdin lines as messages to a Listener (CPython''s or mp listen) and print the replies (see mp client --help)')
            [CompletionResult]::new('serve-manager', 'serve-manager', [CompletionResultType]::ParameterValue, 'Serve shared objects to CPython''s SyncManager/BaseManager clients (see mp serve-manager --help)')
            [CompletionResult]::new('worker', 'worker', [CompletionResultType]::ParameterValue, 'Take records from a coordinator (`mp map --listen`) and run them here (see mp worker --help)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (bash, zsh, fish, elvish, powershell)')
            [CompletionResult]::new('queue', 'queue', [CompletionResultType]::ParameterValue, 'A queue on a manager, from the shell: put, get, size, task-done, join (see mp queue --help)')
            [CompletionResult]::new('dict', 'dict', [CompletionResultType]::ParameterValue, 'A dict on a manager: set, get, del, keys, items, len, incr')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'A list on a manager: append, get, len, items')
            [CompletionResult]::new('value', 'value', [CompletionResultType]::ParameterValue, 'A value on a manager: get, set')
            [CompletionResult]::new('lock', 'lock', [CompletionResultType]::ParameterValue, 'Run a command while holding a lock on a manager (see mp lock --help)')
            [CompletionResult]::new('semaphore', 'semaphore', [CompletionResultType]::ParameterValue, 'Run a command while holding one of N permits on a manager')
            [CompletionResult]::new('event', 'event', [CompletionResultType]::ParameterValue, 'An event on a manager: set, clear, wait, is-set')
            [CompletionResult]::new('barrier', 'barrier', [CompletionResultType]::ParameterValue, 'A barrier on a manager: wait for N parties, reset')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;map' {
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Number of worker processes: N, or relative to the CPUs this process may use: +N (CPUs + N), -N (CPUs - N, at least 1), N% (N percent of the CPUs, at least 1) [default: the CPUs]')
            [CompletionResult]::new('--processes', '--processes', [CompletionResultType]::ParameterName, 'Number of worker processes: N, or relative to the CPUs this process may use: +N (CPUs + N), -N (CPUs - N, at least 1), N% (N percent of the CPUs, at least 1) [default: the CPUs]')
            [CompletionResult]::new('--chunksize', '--chunksize', [CompletionResultType]::ParameterName, 'Records handed to a worker at a time [default: 1; with --persistent, the records in flight per worker, adapted to the command''s speed when not given]')
            [CompletionResult]::new('--maxtasksperchild', '--maxtasksperchild', [CompletionResultType]::ParameterName, 'Replace a worker after it has run N chunks (with --persistent: restart the command after it has been given N records)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Time limit per task (e.g. 500ms, 10s, 2m, 1h; a bare number is seconds; more than a lifetime means no limit; 0 is refused). The task''s whole process group is ended: TERM, --grace, KILL. With --persistent: the time limit for each reply')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'Time between SIGTERM and SIGKILL when a task is stopped')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Records are separated by this single byte (e.g. , or \t; the escapes \t \n \r \0 \\ are understood)')
            [CompletionResult]::new('--delimiter', '--delimiter', [CompletionResultType]::ParameterName, 'Records are separated by this single byte (e.g. , or \t; the escapes \t \n \r \0 \\ are understood)')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Read records from FILE instead of stdin (`-` is stdin). Given more than once, each file is a source of its own: {1} from the first, {2} from the second, every combination (as `:::: FILE FILE`)')
            [CompletionResult]::new('--arg-file', '--arg-file', [CompletionResultType]::ParameterName, 'Read records from FILE instead of stdin (`-` is stdin). Given more than once, each file is a source of its own: {1} from the first, {2} from the second, every combination (as `:::: FILE FILE`)')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Up to N records per command (as xargs -n): {} stands for all of them, {1} {2}... for each; without a placeholder they go last')
            [CompletionResult]::new('--max-args', '--max-args', [CompletionResultType]::ParameterName, 'Up to N records per command (as xargs -n): {} stands for all of them, {1} {2}... for each; without a placeholder they go last')
            [CompletionResult]::new('--colsep', '--colsep', [CompletionResultType]::ParameterName, 'Split each record into columns {1}, {2}... at this string (the same escapes as -d; columns are not trimmed). Without a placeholder in COMMAND, the columns are its last arguments')
            [CompletionResult]::new('--start-method', '--start-method', [CompletionResultType]::ParameterName, 'How workers are started: forkserver (a single-threaded copy of mp, started once, forks each worker), spawn (each worker runs mp again) or fork (forks mp itself, whose signal, reaper and pool threads run by then: a worker may inherit a lock one of them held, as with Python''s fork)')
            [CompletionResult]::new('--frame', '--frame', [CompletionResultType]::ParameterName, 'With --persistent: `lines` (a record is one line in, its reply one line out) or `json` (a record goes in as {"seq":N,"record":"..."} on one line, the reply is one JSON value; a string reply may hold newlines)')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Run a failed task (or record) again, up to N more times')
            [CompletionResult]::new('--halt', '--halt', [CompletionResultType]::ParameterName, 'When to stop early: never (default); soon (after the first failure, start nothing new, let running tasks finish); now (after the first failure, kill running tasks); or soon|now,fail|success|done=N')
            [CompletionResult]::new('--joblog', '--joblog', [CompletionResultType]::ParameterName, 'Append one line per finished task to FILE (GNU parallel''s format: Seq Host Starttime JobRuntime Send Receive Exitval Signal Command)')
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Serve the records to remote `mp worker --connect ADDR` processes too (HOST:PORT, port 0 picks one; or a Unix socket path): the address is printed on stderr. Needs an authkey (--authkey-file or $MP_AUTHKEY) unless ADDR is loopback or a Unix socket. -j counts the local slots (-j 0: none). With --persistent, every slot keeps COMMAND running and takes blocks of records, as locally. See "Remote workers" in the README')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'With --listen: read the authentication key from FILE (else $MP_AUTHKEY). Workers need the same key')
            [CompletionResult]::new('--lease', '--lease', [CompletionResultType]::ParameterName, 'With --listen: a worker silent for this long (no call, as when its host is cut off) is given up, and its records run elsewhere')
            [CompletionResult]::new('--ssh', '--ssh', [CompletionResultType]::ParameterName, 'With --listen: start `mp worker` on these hosts over ssh, as GNU parallel''s -S does (HOST or N/HOST for N slots, comma-separated; may be repeated). The key goes to the worker on its stdin')
            [CompletionResult]::new('--sshloginfile', '--sshloginfile', [CompletionResultType]::ParameterName, 'With --listen: the --ssh hosts, one per line (# comments)')
            [CompletionResult]::new('--ssh-program', '--ssh-program', [CompletionResultType]::ParameterName, 'The program --ssh runs as `PROG HOST COMMAND` (as GNU parallel''s --ssh)')
            [CompletionResult]::new('--advertise', '--advertise', [CompletionResultType]::ParameterName, 'The address --ssh workers dial [default: the --listen address, an unspecified host (0.0.0.0) replaced by this machine''s name]')
            [CompletionResult]::new('--unordered', '--unordered', [CompletionResultType]::ParameterName, 'Write results in completion order instead of input order')
            [CompletionResult]::new('-0', '-0', [CompletionResultType]::ParameterName, 'Records are separated by NUL bytes (as from find -print0)')
            [CompletionResult]::new('--null', '--null', [CompletionResultType]::ParameterName, 'Records are separated by NUL bytes (as from find -print0)')
            [CompletionResult]::new('-X', '-X ', [CompletionResultType]::ParameterName, 'As many records per command as fit in a command line, a word holding {} repeated for each (context replace: `-X gzip -k {}`, `-X cp {} dir/`); the last ones are spread over the workers')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'As -X, but {} becomes all the records as separate words in its place (text around it joins the first and the last)')
            [CompletionResult]::new('--tag', '--tag', [CompletionResultType]::ParameterName, 'Prefix each line of a task''s output (stdout and stderr) with its record (values joined by spaces) and a TAB')
            [CompletionResult]::new('--line-buffer', '--line-buffer', [CompletionResultType]::ParameterName, 'Print each complete line of a task''s output (stdout, stderr) as soon as the task writes it, instead of a task''s whole output once it is done: lines of different tasks interleave, never mix within a line; the order of tasks is not kept. With --tag, each line starts with the record. Output of an attempt that --retries runs again is shown')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Keep output in input order: the default (GNU parallel''s -k), accepted for its users; --unordered turns it off')
            [CompletionResult]::new('--keep-order', '--keep-order', [CompletionResultType]::ParameterName, 'Keep output in input order: the default (GNU parallel''s -k), accepted for its users; --unordered turns it off')
            [CompletionResult]::new('--shell', '--shell', [CompletionResultType]::ParameterName, 'Always run COMMAND with sh -c')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON object per task instead of its output')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the commands that would run, one per line, and run nothing')
            [CompletionResult]::new('--progress', '--progress', [CompletionResultType]::ParameterName, 'Show a progress line on stderr: tasks done (of the total, with a rate and an ETA, when the total is known: -a FILE, ::: lists, a regular file on stdin) [default: on when stderr is a terminal]. --bar and --eta (GNU parallel''s) are the same')
            [CompletionResult]::new('--bar', '--bar', [CompletionResultType]::ParameterName, 'Show a progress line on stderr: tasks done (of the total, with a rate and an ETA, when the total is known: -a FILE, ::: lists, a regular file on stdin) [default: on when stderr is a terminal]. --bar and --eta (GNU parallel''s) are the same')
            [CompletionResult]::new('--eta', '--eta', [CompletionResultType]::ParameterName, 'Show a progress line on stderr: tasks done (of the total, with a rate and an ETA, when the total is known: -a FILE, ::: lists, a regular file on stdin) [default: on when stderr is a terminal]. --bar and --eta (GNU parallel''s) are the same')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Never show the progress line')
            [CompletionResult]::new('--persistent', '--persistent', [CompletionResultType]::ParameterName, 'Start COMMAND once per worker and feed it records on its stdin; it answers one reply per record on stdout (see --frame)')
            [CompletionResult]::new('--resume', '--resume', [CompletionResultType]::ParameterName, 'Skip the records that --joblog FILE shows done (same input, same order)')
            [CompletionResult]::new('--resume-failed', '--resume-failed', [CompletionResultType]::ParameterName, 'Like --resume, but also run again the records whose last run failed')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'mp;info' {
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;listen' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The address: HOST:PORT (TCP; for mp listen port 0 picks a free one, printed on stderr) or a Unix socket path (containing ''/''; ''@name'' is in the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The address: HOST:PORT (TCP; for mp listen port 0 picks a free one, printed on stderr) or a Unix socket path (containing ''/''; ''@name'' is in the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY)')
            [CompletionResult]::new('--max-message', '--max-message', [CompletionResultType]::ParameterName, 'The largest message accepted, in bytes (K, M, G suffixes); a larger one ends its connection')
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Bridge each connection to COMMAND (run with sh -c): messages to its stdin lines, its stdout lines back as messages')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Messages are pickles: print each received one as a line of JSON, and send each line (JSON) pickled')
            [CompletionResult]::new('--once', '--once', [CompletionResultType]::ParameterName, 'Serve one connection, then exit')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;client' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The address: HOST:PORT (TCP; for mp listen port 0 picks a free one, printed on stderr) or a Unix socket path (containing ''/''; ''@name'' is in the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The address: HOST:PORT (TCP; for mp listen port 0 picks a free one, printed on stderr) or a Unix socket path (containing ''/''; ''@name'' is in the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY)')
            [CompletionResult]::new('--max-message', '--max-message', [CompletionResultType]::ParameterName, 'The largest message accepted, in bytes (K, M, G suffixes); a larger one ends its connection')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Messages are pickles: print each received one as a line of JSON, and send each line (JSON) pickled')
            [CompletionResult]::new('--request', '--request', [CompletionResultType]::ParameterName, 'Send all of stdin as one message, print the one reply, exit')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;serve-manager' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'HOST:PORT (port 0 picks a free one) or a Unix socket path')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'HOST:PORT (port 0 picks a free one) or a Unix socket path')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY)')
            [CompletionResult]::new('--register', '--register', [CompletionResultType]::ParameterName, 'Serve NAME as a typeid bound to one shared object of TYPE (queue, joinablequeue, dict, list, set, namespace, lock, rlock, semaphore[:N], boundedsemaphore[:N], event, condition, barrier:N): Python''s `register(''NAME'')` then `m.NAME()` returns it')
            [CompletionResult]::new('--max-objects', '--max-objects', [CompletionResultType]::ParameterName, 'Refuse to create an object while N are alive (created and not yet released by their last decref); the client gets a RemoteError that says so')
            [CompletionResult]::new('--max-objects-per-connection', '--max-objects-per-connection', [CompletionResultType]::ParameterName, 'Refuse to create an object for a connection whose requests created N that are still alive (a Python client opens a connection per create, so this bounds what one client thread''s calls create, such as dict iterators)')
            [CompletionResult]::new('--max-message', '--max-message', [CompletionResultType]::ParameterName, 'Refuse a request longer than BYTES: the client gets a RemoteError that says so and its connection is closed')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;worker' {
            [CompletionResult]::new('--connect', '--connect', [CompletionResultType]::ParameterName, 'The coordinator''s address (HOST:PORT or a Unix socket path)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY)')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Local slots: N, +N, -N or N% of the CPUs [default: the CPUs]')
            [CompletionResult]::new('--processes', '--processes', [CompletionResultType]::ParameterName, 'Local slots: N, +N, -N or N% of the CPUs [default: the CPUs]')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'The name this worker gives in the coordinator''s joblog [default: the host name]')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Keep trying to reach the coordinator for this long')
            [CompletionResult]::new('--start-method', '--start-method', [CompletionResultType]::ParameterName, 'How the local slots'' processes are started (as mp map''s)')
            [CompletionResult]::new('--keep-going', '--keep-going', [CompletionResultType]::ParameterName, 'After a run ends (or the coordinator goes away), wait for the next one')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;completions' {
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;queue' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('put', 'put', [CompletionResultType]::ParameterValue, 'Put each VALUE at the end of the queue, in order')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Take the first value and print it, waiting for one if the queue is empty: for ever, up to --timeout, or not at all (--nowait). Exit 1, printing nothing, when there was none')
            [CompletionResult]::new('size', 'size', [CompletionResultType]::ParameterValue, 'Print the number of values in the queue')
            [CompletionResult]::new('task-done', 'task-done', [CompletionResultType]::ParameterValue, 'Mark one value taken from the queue as processed (for join)')
            [CompletionResult]::new('join', 'join', [CompletionResultType]::ParameterValue, 'Wait until every value put in the queue was marked processed (task-done)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;queue;put' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;queue;get' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wait at most DURATION (1.5, 500ms, 2m)')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--nowait', '--nowait', [CompletionResultType]::ParameterName, 'Do not wait')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;queue;size' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;queue;task-done' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;queue;join' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;queue;help' {
            [CompletionResult]::new('put', 'put', [CompletionResultType]::ParameterValue, 'Put each VALUE at the end of the queue, in order')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Take the first value and print it, waiting for one if the queue is empty: for ever, up to --timeout, or not at all (--nowait). Exit 1, printing nothing, when there was none')
            [CompletionResult]::new('size', 'size', [CompletionResultType]::ParameterValue, 'Print the number of values in the queue')
            [CompletionResult]::new('task-done', 'task-done', [CompletionResultType]::ParameterValue, 'Mark one value taken from the queue as processed (for join)')
            [CompletionResult]::new('join', 'join', [CompletionResultType]::ParameterValue, 'Wait until every value put in the queue was marked processed (task-done)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;queue;help;put' {
            break
        }
        'mp;queue;help;get' {
            break
        }
        'mp;queue;help;size' {
            break
        }
        'mp;queue;help;task-done' {
            break
        }
        'mp;queue;help;join' {
            break
        }
        'mp;queue;help;help' {
            break
        }
        'mp;dict' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set KEY to VALUE')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print KEY''s value; exit 1, printing nothing, if there is no KEY')
            [CompletionResult]::new('del', 'del', [CompletionResultType]::ParameterValue, 'Remove KEY; exit 1 if there was no KEY')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Print the keys, one a line')
            [CompletionResult]::new('items', 'items', [CompletionResultType]::ParameterValue, 'Print KEY<TAB>VALUE lines (with --json: the dict as one JSON object)')
            [CompletionResult]::new('len', 'len', [CompletionResultType]::ParameterValue, 'Print the number of keys')
            [CompletionResult]::new('incr', 'incr', [CompletionResultType]::ParameterValue, 'Add N (default 1; an integer or a decimal, may be negative) to KEY''s number (0 if KEY is missing) in one step, and print the new value: a counter no two clients can lose an update of (an mp extension)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;dict;set' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;dict;get' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;dict;del' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;dict;keys' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;dict;items' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;dict;len' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;dict;incr' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;dict;help' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set KEY to VALUE')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print KEY''s value; exit 1, printing nothing, if there is no KEY')
            [CompletionResult]::new('del', 'del', [CompletionResultType]::ParameterValue, 'Remove KEY; exit 1 if there was no KEY')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Print the keys, one a line')
            [CompletionResult]::new('items', 'items', [CompletionResultType]::ParameterValue, 'Print KEY<TAB>VALUE lines (with --json: the dict as one JSON object)')
            [CompletionResult]::new('len', 'len', [CompletionResultType]::ParameterValue, 'Print the number of keys')
            [CompletionResult]::new('incr', 'incr', [CompletionResultType]::ParameterValue, 'Add N (default 1; an integer or a decimal, may be negative) to KEY''s number (0 if KEY is missing) in one step, and print the new value: a counter no two clients can lose an update of (an mp extension)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;dict;help;set' {
            break
        }
        'mp;dict;help;get' {
            break
        }
        'mp;dict;help;del' {
            break
        }
        'mp;dict;help;keys' {
            break
        }
        'mp;dict;help;items' {
            break
        }
        'mp;dict;help;len' {
            break
        }
        'mp;dict;help;incr' {
            break
        }
        'mp;dict;help;help' {
            break
        }
        'mp;list' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('append', 'append', [CompletionResultType]::ParameterValue, 'Append each VALUE, in order')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print the value at INDEX (0 is the first, -1 the last); exit 1 if there is none')
            [CompletionResult]::new('len', 'len', [CompletionResultType]::ParameterValue, 'Print the number of values')
            [CompletionResult]::new('items', 'items', [CompletionResultType]::ParameterValue, 'Print the values, one a line (with --json: one JSON array)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;list;append' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;list;get' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;list;len' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;list;items' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;list;help' {
            [CompletionResult]::new('append', 'append', [CompletionResultType]::ParameterValue, 'Append each VALUE, in order')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print the value at INDEX (0 is the first, -1 the last); exit 1 if there is none')
            [CompletionResult]::new('len', 'len', [CompletionResultType]::ParameterValue, 'Print the number of values')
            [CompletionResult]::new('items', 'items', [CompletionResultType]::ParameterValue, 'Print the values, one a line (with --json: one JSON array)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;list;help;append' {
            break
        }
        'mp;list;help;get' {
            break
        }
        'mp;list;help;len' {
            break
        }
        'mp;list;help;items' {
            break
        }
        'mp;list;help;help' {
            break
        }
        'mp;value' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print the value; exit 1, printing nothing, while it is unset (None)')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set the value')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;value;get' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;value;set' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;value;help' {
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print the value; exit 1, printing nothing, while it is unset (None)')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set the value')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;value;help;get' {
            break
        }
        'mp;value;help;set' {
            break
        }
        'mp;value;help;help' {
            break
        }
        'mp;lock' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up waiting for the lock after DURATION (1.5, 500ms, 2m): exit 124, COMMAND not run')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;semaphore' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'How many holders at once')
            [CompletionResult]::new('--permits', '--permits', [CompletionResultType]::ParameterName, 'How many holders at once')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Give up waiting for a permit after DURATION: exit 124, COMMAND not run')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;event' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set the event: every waiter goes on, and waits return at once until it is cleared')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Clear the event')
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait until the event is set (for ever, or up to --timeout; exit 1 on timeout)')
            [CompletionResult]::new('is-set', 'is-set', [CompletionResultType]::ParameterValue, 'Exit 0 if the event is set, 1 if not')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;event;set' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;event;clear' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;event;wait' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wait at most DURATION (1.5, 500ms, 2m)')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;event;is-set' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;event;help' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set the event: every waiter goes on, and waits return at once until it is cleared')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Clear the event')
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait until the event is set (for ever, or up to --timeout; exit 1 on timeout)')
            [CompletionResult]::new('is-set', 'is-set', [CompletionResultType]::ParameterValue, 'Exit 0 if the event is set, 1 if not')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;event;help;set' {
            break
        }
        'mp;event;help;clear' {
            break
        }
        'mp;event;help;wait' {
            break
        }
        'mp;event;help;is-set' {
            break
        }
        'mp;event;help;help' {
            break
        }
        'mp;barrier' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait until N parties wait on the barrier, then all go on')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Make a broken barrier usable again (its waiters, if any, fail)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;barrier;wait' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'How many parties it waits for')
            [CompletionResult]::new('--parties', '--parties', [CompletionResultType]::ParameterName, 'How many parties it waits for')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wait at most DURATION (1.5, 500ms, 2m): then the barrier breaks, for every waiter')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;barrier;reset' {
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)')
            [CompletionResult]::new('--authkey-file', '--authkey-file', [CompletionResultType]::ParameterName, 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mp;barrier;help' {
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait until N parties wait on the barrier, then all go on')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Make a broken barrier usable again (its waiters, if any, fail)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;barrier;help;wait' {
            break
        }
        'mp;barrier;help;reset' {
            break
        }
        'mp;barrier;help;help' {
            break
        }
        'mp;help' {
            [CompletionResult]::new('map', 'map', [CompletionResultType]::ParameterValue, 'Run a command for every input record, in parallel (see mp map --help)')
            [CompletionResult]::new('info', 'info', [CompletionResultType]::ParameterValue, 'Print what mp knows about this machine: CPU counts and start methods')
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Accept framed messages from CPython''s Client (or mp client) and print them, or bridge them to a command (see mp listen --help)')
            [CompletionResult]::new('client', 'client', [CompletionResultType]::ParameterValue, 'Send stdin lines as messages to a Listener (CPython''s or mp listen) and print the replies (see mp client --help)')
            [CompletionResult]::new('serve-manager', 'serve-manager', [CompletionResultType]::ParameterValue, 'Serve shared objects to CPython''s SyncManager/BaseManager clients (see mp serve-manager --help)')
            [CompletionResult]::new('worker', 'worker', [CompletionResultType]::ParameterValue, 'Take records from a coordinator (`mp map --listen`) and run them here (see mp worker --help)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script (bash, zsh, fish, elvish, powershell)')
            [CompletionResult]::new('queue', 'queue', [CompletionResultType]::ParameterValue, 'A queue on a manager, from the shell: put, get, size, task-done, join (see mp queue --help)')
            [CompletionResult]::new('dict', 'dict', [CompletionResultType]::ParameterValue, 'A dict on a manager: set, get, del, keys, items, len, incr')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'A list on a manager: append, get, len, items')
            [CompletionResult]::new('value', 'value', [CompletionResultType]::ParameterValue, 'A value on a manager: get, set')
            [CompletionResult]::new('lock', 'lock', [CompletionResultType]::ParameterValue, 'Run a command while holding a lock on a manager (see mp lock --help)')
            [CompletionResult]::new('semaphore', 'semaphore', [CompletionResultType]::ParameterValue, 'Run a command while holding one of N permits on a manager')
            [CompletionResult]::new('event', 'event', [CompletionResultType]::ParameterValue, 'An event on a manager: set, clear, wait, is-set')
            [CompletionResult]::new('barrier', 'barrier', [CompletionResultType]::ParameterValue, 'A barrier on a manager: wait for N parties, reset')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mp;help;map' {
            break
        }
        'mp;help;info' {
            break
        }
        'mp;help;listen' {
            break
        }
        'mp;help;client' {
            break
        }
        'mp;help;serve-manager' {
            break
        }
        'mp;help;worker' {
            break
        }
        'mp;help;completions' {
            break
        }
        'mp;help;queue' {
            [CompletionResult]::new('put', 'put', [CompletionResultType]::ParameterValue, 'Put each VALUE at the end of the queue, in order')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Take the first value and print it, waiting for one if the queue is empty: for ever, up to --timeout, or not at all (--nowait). Exit 1, printing nothing, when there was none')
            [CompletionResult]::new('size', 'size', [CompletionResultType]::ParameterValue, 'Print the number of values in the queue')
            [CompletionResult]::new('task-done', 'task-done', [CompletionResultType]::ParameterValue, 'Mark one value taken from the queue as processed (for join)')
            [CompletionResult]::new('join', 'join', [CompletionResultType]::ParameterValue, 'Wait until every value put in the queue was marked processed (task-done)')
            break
        }
        'mp;help;queue;put' {
            break
        }
        'mp;help;queue;get' {
            break
        }
        'mp;help;queue;size' {
            break
        }
        'mp;help;queue;task-done' {
            break
        }
        'mp;help;queue;join' {
            break
        }
        'mp;help;dict' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set KEY to VALUE')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print KEY''s value; exit 1, printing nothing, if there is no KEY')
            [CompletionResult]::new('del', 'del', [CompletionResultType]::ParameterValue, 'Remove KEY; exit 1 if there was no KEY')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Print the keys, one a line')
            [CompletionResult]::new('items', 'items', [CompletionResultType]::ParameterValue, 'Print KEY<TAB>VALUE lines (with --json: the dict as one JSON object)')
            [CompletionResult]::new('len', 'len', [CompletionResultType]::ParameterValue, 'Print the number of keys')
            [CompletionResult]::new('incr', 'incr', [CompletionResultType]::ParameterValue, 'Add N (default 1; an integer or a decimal, may be negative) to KEY''s number (0 if KEY is missing) in one step, and print the new value: a counter no two clients can lose an update of (an mp extension)')
            break
        }
        'mp;help;dict;set' {
            break
        }
        'mp;help;dict;get' {
            break
        }
        'mp;help;dict;del' {
            break
        }
        'mp;help;dict;keys' {
            break
        }
        'mp;help;dict;items' {
            break
        }
        'mp;help;dict;len' {
            break
        }
        'mp;help;dict;incr' {
            break
        }
        'mp;help;list' {
            [CompletionResult]::new('append', 'append', [CompletionResultType]::ParameterValue, 'Append each VALUE, in order')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print the value at INDEX (0 is the first, -1 the last); exit 1 if there is none')
            [CompletionResult]::new('len', 'len', [CompletionResultType]::ParameterValue, 'Print the number of values')
            [CompletionResult]::new('items', 'items', [CompletionResultType]::ParameterValue, 'Print the values, one a line (with --json: one JSON array)')
            break
        }
        'mp;help;list;append' {
            break
        }
        'mp;help;list;get' {
            break
        }
        'mp;help;list;len' {
            break
        }
        'mp;help;list;items' {
            break
        }
        'mp;help;value' {
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'Print the value; exit 1, printing nothing, while it is unset (None)')
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set the value')
            break
        }
        'mp;help;value;get' {
            break
        }
        'mp;help;value;set' {
            break
        }
        'mp;help;lock' {
            break
        }
        'mp;help;semaphore' {
            break
        }
        'mp;help;event' {
            [CompletionResult]::new('set', 'set', [CompletionResultType]::ParameterValue, 'Set the event: every waiter goes on, and waits return at once until it is cleared')
            [CompletionResult]::new('clear', 'clear', [CompletionResultType]::ParameterValue, 'Clear the event')
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait until the event is set (for ever, or up to --timeout; exit 1 on timeout)')
            [CompletionResult]::new('is-set', 'is-set', [CompletionResultType]::ParameterValue, 'Exit 0 if the event is set, 1 if not')
            break
        }
        'mp;help;event;set' {
            break
        }
        'mp;help;event;clear' {
            break
        }
        'mp;help;event;wait' {
            break
        }
        'mp;help;event;is-set' {
            break
        }
        'mp;help;barrier' {
            [CompletionResult]::new('wait', 'wait', [CompletionResultType]::ParameterValue, 'Wait until N parties wait on the barrier, then all go on')
            [CompletionResult]::new('reset', 'reset', [CompletionResultType]::ParameterValue, 'Make a broken barrier usable again (its waiters, if any, fail)')
            break
        }
        'mp;help;barrier;wait' {
            break
        }
        'mp;help;barrier;reset' {
            break
        }
        'mp;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
