
use builtin;
use str;

set edit:completion:arg-completer[mp] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'mp'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'mp'= {
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand map 'Run a command for every input record, in parallel (see mp map --help)'
            cand info 'Print what mp knows about this machine: CPU counts and start methods'
            cand listen 'Accept framed messages from CPython''s Client (or mp client) and print them, or bridge them to a command (see mp listen --help)'
            cand client 'Send stdin lines as messages to a Listener (CPython''s or mp listen) and print the replies (see mp client --help)'
            cand serve-manager 'Serve shared objects to CPython''s SyncManager/BaseManager clients (see mp serve-manager --help)'
            cand worker 'Take records from a coordinator (`mp map --listen`) and run them here (see mp worker --help)'
            cand completions 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
            cand queue 'A queue on a manager, from the shell: put, get, size, task-done, join (see mp queue --help)'
            cand dict 'A dict on a manager: set, get, del, keys, items, len, incr'
            cand list 'A list on a manager: append, get, len, items'
            cand value 'A value on a manager: get, set'
            cand lock 'Run a command while holding a lock on a manager (see mp lock --help)'
            cand semaphore 'Run a command while holding one of N permits on a manager'
            cand event 'An event on a manager: set, clear, wait, is-set'
            cand barrier 'A barrier on a manager: wait for N parties, reset'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;map'= {
            cand -j 'Number of worker processes: N, or relative to the CPUs this process may use: +N (CPUs + N), -N (CPUs - N, at least 1), N% (N percent of the CPUs, at least 1) [default: the CPUs]'
            cand --processes 'Number of worker processes: N, or relative to the CPUs this process may use: +N (CPUs + N), -N (CPUs - N, at least 1), N% (N percent of the CPUs, at least 1) [default: the CPUs]'
            cand --chunksize 'Records handed to a worker at a time [default: 1; with --persistent, the records in flight per worker, adapted to the command''s speed when not given]'
            cand --maxtasksperchild 'Replace a worker after it has run N chunks (with --persistent: restart the command after it has been given N records)'
            cand --timeout 'Time limit per task (e.g. 500ms, 10s, 2m, 1h; a bare number is seconds; more than a lifetime means no limit; 0 is refused). The task''s whole process group is ended: TERM, --grace, KILL. With --persistent: the time limit for each reply'
            cand --grace 'Time between SIGTERM and SIGKILL when a task is stopped'
            cand -d 'Records are separated by this single byte (e.g. , or \t; the escapes \t \n \r \0 \\ are understood)'
            cand --delimiter 'Records are separated by this single byte (e.g. , or \t; the escapes \t \n \r \0 \\ are understood)'
            cand -a 'Read records from FILE instead of stdin (`-` is stdin). Given more than once, each file is a source of its own: {1} from the first, {2} from the second, every combination (as `:::: FILE FILE`)'
            cand --arg-file 'Read records from FILE instead of stdin (`-` is stdin). Given more than once, each file is a source of its own: {1} from the first, {2} from the second, every combination (as `:::: FILE FILE`)'
            cand -n 'Up to N records per command (as xargs -n): {} stands for all of them, {1} {2}... for each; without a placeholder they go last'
            cand --max-args 'Up to N records per command (as xargs -n): {} stands for all of them, {1} {2}... for each; without a placeholder they go last'
            cand --colsep 'Split each record into columns {1}, {2}... at this string (the same escapes as -d; columns are not trimmed). Without a placeholder in COMMAND, the columns are its last arguments'
            cand --start-method 'How workers are started: forkserver (a single-threaded copy of mp, started once, forks each worker), spawn (each worker runs mp again) or fork (forks mp itself, whose signal, reaper and pool threads run by then: a worker may inherit a lock one of them held, as with Python''s fork)'
            cand --frame 'With --persistent: `lines` (a record is one line in, its reply one line out) or `json` (a record goes in as {"seq":N,"record":"..."} on one line, the reply is one JSON value; a string reply may hold newlines)'
            cand --retries 'Run a failed task (or record) again, up to N more times'
            cand --halt 'When to stop early: never (default); soon (after the first failure, start nothing new, let running tasks finish); now (after the first failure, kill running tasks); or soon|now,fail|success|done=N'
            cand --joblog 'Append one line per finished task to FILE (GNU parallel''s format: Seq Host Starttime JobRuntime Send Receive Exitval Signal Command)'
            cand --listen 'Serve the records to remote `mp worker --connect ADDR` processes too (HOST:PORT, port 0 picks one; or a Unix socket path): the address is printed on stderr. Needs an authkey (--authkey-file or $MP_AUTHKEY) unless ADDR is loopback or a Unix socket. -j counts the local slots (-j 0: none). With --persistent, every slot keeps COMMAND running and takes blocks of records, as locally. See "Remote workers" in the README'
            cand --authkey-file 'With --listen: read the authentication key from FILE (else $MP_AUTHKEY). Workers need the same key'
            cand --lease 'With --listen: a worker silent for this long (no call, as when its host is cut off) is given up, and its records run elsewhere'
            cand --ssh 'With --listen: start `mp worker` on these hosts over ssh, as GNU parallel''s -S does (HOST or N/HOST for N slots, comma-separated; may be repeated). The key goes to the worker on its stdin'
            cand --sshloginfile 'With --listen: the --ssh hosts, one per line (# comments)'
            cand --ssh-program 'The program --ssh runs as `PROG HOST COMMAND` (as GNU parallel''s --ssh)'
            cand --advertise 'The address --ssh workers dial [default: the --listen address, an unspecified host (0.0.0.0) replaced by this machine''s name]'
            cand --unordered 'Write results in completion order instead of input order'
            cand -0 'Records are separated by NUL bytes (as from find -print0)'
            cand --null 'Records are separated by NUL bytes (as from find -print0)'
            cand -X 'As many records per command as fit in a command line, a word holding {} repeated for each (context replace: `-X gzip -k {}`, `-X cp {} dir/`); the last ones are spread over the workers'
            cand -m 'As -X, but {} becomes all the records as separate words in its place (text around it joins the first and the last)'
            cand --tag 'Prefix each line of a task''s output (stdout and stderr) with its record (values joined by spaces) and a TAB'
            cand --line-buffer 'Print each complete line of a task''s output (stdout, stderr) as soon as the task writes it, instead of a task''s whole output once it is done: lines of different tasks interleave, never mix within a line; the order of tasks is not kept. With --tag, each line starts with the record. Output of an attempt that --retries runs again is shown'
            cand -k 'Keep output in input order: the default (GNU parallel''s -k), accepted for its users; --unordered turns it off'
            cand --keep-order 'Keep output in input order: the default (GNU parallel''s -k), accepted for its users; --unordered turns it off'
            cand --shell 'Always run COMMAND with sh -c'
            cand --json 'Print one JSON object per task instead of its output'
            cand --dry-run 'Print the commands that would run, one per line, and run nothing'
            cand --progress 'Show a progress line on stderr: tasks done (of the total, with a rate and an ETA, when the total is known: -a FILE, ::: lists, a regular file on stdin) [default: on when stderr is a terminal]. --bar and --eta (GNU parallel''s) are the same'
            cand --bar 'Show a progress line on stderr: tasks done (of the total, with a rate and an ETA, when the total is known: -a FILE, ::: lists, a regular file on stdin) [default: on when stderr is a terminal]. --bar and --eta (GNU parallel''s) are the same'
            cand --eta 'Show a progress line on stderr: tasks done (of the total, with a rate and an ETA, when the total is known: -a FILE, ::: lists, a regular file on stdin) [default: on when stderr is a terminal]. --bar and --eta (GNU parallel''s) are the same'
            cand --no-progress 'Never show the progress line'
            cand --persistent 'Start COMMAND once per worker and feed it records on its stdin; it answers one reply per record on stdout (see --frame)'
            cand --resume 'Skip the records that --joblog FILE shows done (same input, same order)'
            cand --resume-failed 'Like --resume, but also run again the records whose last run failed'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'mp;info'= {
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;listen'= {
            cand -a 'The address: HOST:PORT (TCP; for mp listen port 0 picks a free one, printed on stderr) or a Unix socket path (containing ''/''; ''@name'' is in the abstract namespace)'
            cand --address 'The address: HOST:PORT (TCP; for mp listen port 0 picks a free one, printed on stderr) or a Unix socket path (containing ''/''; ''@name'' is in the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY)'
            cand --max-message 'The largest message accepted, in bytes (K, M, G suffixes); a larger one ends its connection'
            cand --exec 'Bridge each connection to COMMAND (run with sh -c): messages to its stdin lines, its stdout lines back as messages'
            cand --json 'Messages are pickles: print each received one as a line of JSON, and send each line (JSON) pickled'
            cand --once 'Serve one connection, then exit'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;client'= {
            cand -a 'The address: HOST:PORT (TCP; for mp listen port 0 picks a free one, printed on stderr) or a Unix socket path (containing ''/''; ''@name'' is in the abstract namespace)'
            cand --address 'The address: HOST:PORT (TCP; for mp listen port 0 picks a free one, printed on stderr) or a Unix socket path (containing ''/''; ''@name'' is in the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY)'
            cand --max-message 'The largest message accepted, in bytes (K, M, G suffixes); a larger one ends its connection'
            cand --json 'Messages are pickles: print each received one as a line of JSON, and send each line (JSON) pickled'
            cand --request 'Send all of stdin as one message, print the one reply, exit'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;serve-manager'= {
            cand -a 'HOST:PORT (port 0 picks a free one) or a Unix socket path'
            cand --address 'HOST:PORT (port 0 picks a free one) or a Unix socket path'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY)'
            cand --register 'Serve NAME as a typeid bound to one shared object of TYPE (queue, joinablequeue, dict, list, set, namespace, lock, rlock, semaphore[:N], boundedsemaphore[:N], event, condition, barrier:N): Python''s `register(''NAME'')` then `m.NAME()` returns it'
            cand --max-objects 'Refuse to create an object while N are alive (created and not yet released by their last decref); the client gets a RemoteError that says so'
            cand --max-objects-per-connection 'Refuse to create an object for a connection whose requests created N that are still alive (a Python client opens a connection per create, so this bounds what one client thread''s calls create, such as dict iterators)'
            cand --max-message 'Refuse a request longer than BYTES: the client gets a RemoteError that says so and its connection is closed'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;worker'= {
            cand --connect 'The coordinator''s address (HOST:PORT or a Unix socket path)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY)'
            cand -j 'Local slots: N, +N, -N or N% of the CPUs [default: the CPUs]'
            cand --processes 'Local slots: N, +N, -N or N% of the CPUs [default: the CPUs]'
            cand --host 'The name this worker gives in the coordinator''s joblog [default: the host name]'
            cand --connect-timeout 'Keep trying to reach the coordinator for this long'
            cand --start-method 'How the local slots'' processes are started (as mp map''s)'
            cand --keep-going 'After a run ends (or the coordinator goes away), wait for the next one'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;completions'= {
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;queue'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
            cand put 'Put each VALUE at the end of the queue, in order'
            cand get 'Take the first value and print it, waiting for one if the queue is empty: for ever, up to --timeout, or not at all (--nowait). Exit 1, printing nothing, when there was none'
            cand size 'Print the number of values in the queue'
            cand task-done 'Mark one value taken from the queue as processed (for join)'
            cand join 'Wait until every value put in the queue was marked processed (task-done)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;queue;put'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;queue;get'= {
            cand --timeout 'Wait at most DURATION (1.5, 500ms, 2m)'
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --nowait 'Do not wait'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;queue;size'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;queue;task-done'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;queue;join'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;queue;help'= {
            cand put 'Put each VALUE at the end of the queue, in order'
            cand get 'Take the first value and print it, waiting for one if the queue is empty: for ever, up to --timeout, or not at all (--nowait). Exit 1, printing nothing, when there was none'
            cand size 'Print the number of values in the queue'
            cand task-done 'Mark one value taken from the queue as processed (for join)'
            cand join 'Wait until every value put in the queue was marked processed (task-done)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;queue;help;put'= {
        }
        &'mp;queue;help;get'= {
        }
        &'mp;queue;help;size'= {
        }
        &'mp;queue;help;task-done'= {
        }
        &'mp;queue;help;join'= {
        }
        &'mp;queue;help;help'= {
        }
        &'mp;dict'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
            cand set 'Set KEY to VALUE'
            cand get 'Print KEY''s value; exit 1, printing nothing, if there is no KEY'
            cand del 'Remove KEY; exit 1 if there was no KEY'
            cand keys 'Print the keys, one a line'
            cand items 'Print KEY<TAB>VALUE lines (with --json: the dict as one JSON object)'
            cand len 'Print the number of keys'
            cand incr 'Add N (default 1; an integer or a decimal, may be negative) to KEY''s number (0 if KEY is missing) in one step, and print the new value: a counter no two clients can lose an update of (an mp extension)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;dict;set'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;dict;get'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;dict;del'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;dict;keys'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;dict;items'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;dict;len'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;dict;incr'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;dict;help'= {
            cand set 'Set KEY to VALUE'
            cand get 'Print KEY''s value; exit 1, printing nothing, if there is no KEY'
            cand del 'Remove KEY; exit 1 if there was no KEY'
            cand keys 'Print the keys, one a line'
            cand items 'Print KEY<TAB>VALUE lines (with --json: the dict as one JSON object)'
            cand len 'Print the number of keys'
            cand incr 'Add N (default 1; an integer or a decimal, may be negative) to KEY''s number (0 if KEY is missing) in one step, and print the new value: a counter no two clients can lose an update of (an mp extension)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;dict;help;set'= {
        }
        &'mp;dict;help;get'= {
        }
        &'mp;dict;help;del'= {
        }
        &'mp;dict;help;keys'= {
        }
        &'mp;dict;help;items'= {
        }
        &'mp;dict;help;len'= {
        }
        &'mp;dict;help;incr'= {
        }
        &'mp;dict;help;help'= {
        }
        &'mp;list'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
            cand append 'Append each VALUE, in order'
            cand get 'Print the value at INDEX (0 is the first, -1 the last); exit 1 if there is none'
            cand len 'Print the number of values'
            cand items 'Print the values, one a line (with --json: one JSON array)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;list;append'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;list;get'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;list;len'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;list;items'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;list;help'= {
            cand append 'Append each VALUE, in order'
            cand get 'Print the value at INDEX (0 is the first, -1 the last); exit 1 if there is none'
            cand len 'Print the number of values'
            cand items 'Print the values, one a line (with --json: one JSON array)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;list;help;append'= {
        }
        &'mp;list;help;get'= {
        }
        &'mp;list;help;len'= {
        }
        &'mp;list;help;items'= {
        }
        &'mp;list;help;help'= {
        }
        &'mp;value'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
            cand get 'Print the value; exit 1, printing nothing, while it is unset (None)'
            cand set 'Set the value'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;value;get'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;value;set'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;value;help'= {
            cand get 'Print the value; exit 1, printing nothing, while it is unset (None)'
            cand set 'Set the value'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;value;help;get'= {
        }
        &'mp;value;help;set'= {
        }
        &'mp;value;help;help'= {
        }
        &'mp;lock'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --timeout 'Give up waiting for the lock after DURATION (1.5, 500ms, 2m): exit 124, COMMAND not run'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;semaphore'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand -n 'How many holders at once'
            cand --permits 'How many holders at once'
            cand --timeout 'Give up waiting for a permit after DURATION: exit 124, COMMAND not run'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;event'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
            cand set 'Set the event: every waiter goes on, and waits return at once until it is cleared'
            cand clear 'Clear the event'
            cand wait 'Wait until the event is set (for ever, or up to --timeout; exit 1 on timeout)'
            cand is-set 'Exit 0 if the event is set, 1 if not'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;event;set'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;event;clear'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;event;wait'= {
            cand --timeout 'Wait at most DURATION (1.5, 500ms, 2m)'
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;event;is-set'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;event;help'= {
            cand set 'Set the event: every waiter goes on, and waits return at once until it is cleared'
            cand clear 'Clear the event'
            cand wait 'Wait until the event is set (for ever, or up to --timeout; exit 1 on timeout)'
            cand is-set 'Exit 0 if the event is set, 1 if not'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;event;help;set'= {
        }
        &'mp;event;help;clear'= {
        }
        &'mp;event;help;wait'= {
        }
        &'mp;event;help;is-set'= {
        }
        &'mp;event;help;help'= {
        }
        &'mp;barrier'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
            cand wait 'Wait until N parties wait on the barrier, then all go on'
            cand reset 'Make a broken barrier usable again (its waiters, if any, fail)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;barrier;wait'= {
            cand -n 'How many parties it waits for'
            cand --parties 'How many parties it waits for'
            cand --timeout 'Wait at most DURATION (1.5, 500ms, 2m): then the barrier breaks, for every waiter'
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;barrier;reset'= {
            cand -a 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --address 'The manager''s address: HOST:PORT, or a Unix socket path (with a ''/''; ''@name'' for the abstract namespace)'
            cand --authkey-file 'Read the authentication key from FILE (else $MP_AUTHKEY, never from the command line)'
            cand --connect-timeout 'Give up connecting to the manager after DURATION (1.5, 500ms, 2s): a host that does not answer is an error (exit 3), not a hang'
            cand --json 'Values are JSON: VALUE arguments are parsed as JSON and stored as the Python objects they map to (dict, list, int, float, str, bool, None), and values are printed as JSON, one per line'
            cand -v 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand --verbose 'Log what mp decides and why, on stderr: -v workers started and ended (recycled, killed), retries, time limits, process groups signalled; -vv also connections and handshakes. MP_LOG=FILTER (env_logger''s syntax: MP_LOG=debug, MP_LOG=mp::pool=info) overrides'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mp;barrier;help'= {
            cand wait 'Wait until N parties wait on the barrier, then all go on'
            cand reset 'Make a broken barrier usable again (its waiters, if any, fail)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;barrier;help;wait'= {
        }
        &'mp;barrier;help;reset'= {
        }
        &'mp;barrier;help;help'= {
        }
        &'mp;help'= {
            cand map 'Run a command for every input record, in parallel (see mp map --help)'
            cand info 'Print what mp knows about this machine: CPU counts and start methods'
            cand listen 'Accept framed messages from CPython''s Client (or mp client) and print them, or bridge them to a command (see mp listen --help)'
            cand client 'Send stdin lines as messages to a Listener (CPython''s or mp listen) and print the replies (see mp client --help)'
            cand serve-manager 'Serve shared objects to CPython''s SyncManager/BaseManager clients (see mp serve-manager --help)'
            cand worker 'Take records from a coordinator (`mp map --listen`) and run them here (see mp worker --help)'
            cand completions 'Print a shell completion script (bash, zsh, fish, elvish, powershell)'
            cand queue 'A queue on a manager, from the shell: put, get, size, task-done, join (see mp queue --help)'
            cand dict 'A dict on a manager: set, get, del, keys, items, len, incr'
            cand list 'A list on a manager: append, get, len, items'
            cand value 'A value on a manager: get, set'
            cand lock 'Run a command while holding a lock on a manager (see mp lock --help)'
            cand semaphore 'Run a command while holding one of N permits on a manager'
            cand event 'An event on a manager: set, clear, wait, is-set'
            cand barrier 'A barrier on a manager: wait for N parties, reset'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mp;help;map'= {
        }
        &'mp;help;info'= {
        }
        &'mp;help;listen'= {
        }
        &'mp;help;client'= {
        }
        &'mp;help;serve-manager'= {
        }
        &'mp;help;worker'= {
        }
        &'mp;help;completions'= {
        }
        &'mp;help;queue'= {
            cand put 'Put each VALUE at the end of the queue, in order'
            cand get 'Take the first value and print it, waiting for one if the queue is empty: for ever, up to --timeout, or not at all (--nowait). Exit 1, printing nothing, when there was none'
            cand size 'Print the number of values in the queue'
            cand task-done 'Mark one value taken from the queue as processed (for join)'
            cand join 'Wait until every value put in the queue was marked processed (task-done)'
        }
        &'mp;help;queue;put'= {
        }
        &'mp;help;queue;get'= {
        }
        &'mp;help;queue;size'= {
        }
        &'mp;help;queue;task-done'= {
        }
        &'mp;help;queue;join'= {
        }
        &'mp;help;dict'= {
            cand set 'Set KEY to VALUE'
            cand get 'Print KEY''s value; exit 1, printing nothing, if there is no KEY'
            cand del 'Remove KEY; exit 1 if there was no KEY'
            cand keys 'Print the keys, one a line'
            cand items 'Print KEY<TAB>VALUE lines (with --json: the dict as one JSON object)'
            cand len 'Print the number of keys'
            cand incr 'Add N (default 1; an integer or a decimal, may be negative) to KEY''s number (0 if KEY is missing) in one step, and print the new value: a counter no two clients can lose an update of (an mp extension)'
        }
        &'mp;help;dict;set'= {
        }
        &'mp;help;dict;get'= {
        }
        &'mp;help;dict;del'= {
        }
        &'mp;help;dict;keys'= {
        }
        &'mp;help;dict;items'= {
        }
        &'mp;help;dict;len'= {
        }
        &'mp;help;dict;incr'= {
        }
        &'mp;help;list'= {
            cand append 'Append each VALUE, in order'
            cand get 'Print the value at INDEX (0 is the first, -1 the last); exit 1 if there is none'
            cand len 'Print the number of values'
            cand items 'Print the values, one a line (with --json: one JSON array)'
        }
        &'mp;help;list;append'= {
        }
        &'mp;help;list;get'= {
        }
        &'mp;help;list;len'= {
        }
        &'mp;help;list;items'= {
        }
        &'mp;help;value'= {
            cand get 'Print the value; exit 1, printing nothing, while it is unset (None)'
            cand set 'Set the value'
        }
        &'mp;help;value;get'= {
        }
        &'mp;help;value;set'= {
        }
        &'mp;help;lock'= {
        }
        &'mp;help;semaphore'= {
        }
        &'mp;help;event'= {
            cand set 'Set the event: every waiter goes on, and waits return at once until it is cleared'
            cand clear 'Clear the event'
            cand wait 'Wait until the event is set (for ever, or up to --timeout; exit 1 on timeout)'
            cand is-set 'Exit 0 if the event is set, 1 if not'
        }
        &'mp;help;event;set'= {
        }
        &'mp;help;event;clear'= {
        }
        &'mp;help;event;wait'= {
        }
        &'mp;help;event;is-set'= {
        }
        &'mp;help;barrier'= {
            cand wait 'Wait until N parties wait on the barrier, then all go on'
            cand reset 'Make a broken barrier usable again (its waiters, if any, fail)'
        }
        &'mp;help;barrier;wait'= {
        }
        &'mp;help;barrier;reset'= {
        }
        &'mp;help;help'= {
        }
    ]
    $completions[$command]
}
