//! `mp queue`, `mp dict`, `mp list`, `mp value`: the containers.

use std::ffi::OsString;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};
use mp::managers::Proxy;
use mp::pickle::Value;

use super::{key_value, Classify, ManagerOpts, NOTHING};
use crate::cli::map::parse_duration;

const QUEUE_AFTER: &str = "\
NAME is a queue on the manager (mp serve-manager), made on first use: the
same queue for every client. Python reaches it as the docs' remote-manager
example does (class M(BaseManager): pass; M.register('jobs');
m = M(address, authkey); m.connect(); m.jobs().get()), Rust as
manager.get::<QueueProxy<String>>(\"jobs\").

Values are strings (Python str) unless --json.

Examples:
  export MP_ADDRESS=127.0.0.1:50000 MP_AUTHKEY_FILE=~/.mp-key
  mp queue put jobs a.txt b.txt c.txt
  while f=$(mp queue get jobs --timeout 5); do gzip \"$f\"; mp queue task-done jobs; done
  mp queue put --json jobs '{\"file\": \"a.txt\", \"level\": 9}'
  mp queue join jobs          # until every item got its task-done

Exit codes: 0 done; 1 get: the queue was empty (--nowait) or stayed empty
(--timeout), nothing printed; 2 usage error, or NAME is not a queue;
3 the manager cannot be reached (--connect-timeout) or the connection
broke; 4 the manager refused (task-done called too many times...).";

/// Arguments of `mp queue`.
#[derive(Debug, Args)]
#[command(after_help = QUEUE_AFTER)]
pub struct QueueArgs {
    #[command(flatten)]
    opts: ManagerOpts,
    #[command(subcommand)]
    verb: QueueVerb,
}

#[derive(Debug, Subcommand)]
enum QueueVerb {
    /// Put each VALUE at the end of the queue, in order.
    Put {
        /// The queue.
        name: String,
        /// The values.
        #[arg(required = true)]
        values: Vec<OsString>,
    },
    /// Take the first value and print it, waiting for one if the queue is
    /// empty: for ever, up to --timeout, or not at all (--nowait). Exit 1,
    /// printing nothing, when there was none.
    Get {
        /// The queue.
        name: String,
        /// Wait at most DURATION (1.5, 500ms, 2m).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration,
              conflicts_with = "nowait")]
        timeout: Option<Duration>,
        /// Do not wait.
        #[arg(long)]
        nowait: bool,
    },
    /// Print the number of values in the queue.
    Size {
        /// The queue.
        name: String,
    },
    /// Mark one value taken from the queue as processed (for join).
    TaskDone {
        /// The queue.
        name: String,
    },
    /// Wait until every value put in the queue was marked processed
    /// (task-done).
    Join {
        /// The queue.
        name: String,
    },
}

/// `mp queue`.
pub fn queue(args: QueueArgs) -> Result<i32> {
    let o = &args.opts;
    let named = |name: &str| o.named::<Proxy>(name, "Queue", vec![]);
    match args.verb {
        QueueVerb::Put { name, values } => {
            let q = named(&name)?;
            for v in &values {
                let v = o.parse(v)?;
                q.call_value("put", vec![v], vec![]).at(o)?;
            }
        }
        QueueVerb::Get {
            name,
            timeout,
            nowait,
        } => {
            let q = named(&name)?;
            let got = if nowait {
                q.call_value("get_nowait", vec![], vec![])
            } else {
                let t = timeout.map_or(Value::None, |t| Value::Float(t.as_secs_f64()));
                q.call_value("get", vec![Value::Bool(true), t], vec![])
            };
            match got {
                Ok(v) => o.print(&v)?,
                Err(mp::Error::Empty) => return Ok(NOTHING),
                Err(e) => return Err(e).at(o),
            }
        }
        QueueVerb::Size { name } => {
            let n = named(&name)?.call_value("qsize", vec![], vec![]).at(o)?;
            o.print(&n)?;
        }
        QueueVerb::TaskDone { name } => {
            named(&name)?
                .call_value("task_done", vec![], vec![])
                .at(o)?;
        }
        QueueVerb::Join { name } => {
            named(&name)?.call_value("join", vec![], vec![]).at(o)?;
        }
    }
    Ok(0)
}

const DICT_AFTER: &str = "\
NAME is a dict on the manager, made on first use; Python's register('NAME')
gives a proxy to the same dict. KEYs are always strings (Python str);
values are strings unless --json. A value that is not a string (an int
from incr, a list a Python client stored) prints as JSON.

Examples:
  mp dict set config mode fast
  mode=$(mp dict get config mode) || mode=default
  mp dict incr counts \"$(hostname)\"          # atomic: prints the new count
  mp dict set --json config limits '{\"cpu\": 4, \"mem\": \"8G\"}'
  mp dict items counts | sort -t$'\\t' -k2n    # KEY<TAB>VALUE lines
  mp dict items --json counts | jq .

Exit codes: 0 done; 1 get/del: no such key; 2 usage error, or NAME is not
a dict; 3 the manager cannot be reached or the connection broke; 4 the
manager refused (incr of a value that is not a number...).";

/// Arguments of `mp dict`.
#[derive(Debug, Args)]
#[command(after_help = DICT_AFTER)]
pub struct DictArgs {
    #[command(flatten)]
    opts: ManagerOpts,
    #[command(subcommand)]
    verb: DictVerb,
}

#[derive(Debug, Subcommand)]
enum DictVerb {
    /// Set KEY to VALUE.
    Set {
        /// The dict.
        name: String,
        /// The key.
        key: OsString,
        /// The value.
        value: OsString,
    },
    /// Print KEY's value; exit 1, printing nothing, if there is no KEY.
    Get {
        /// The dict.
        name: String,
        /// The key.
        key: OsString,
    },
    /// Remove KEY; exit 1 if there was no KEY.
    Del {
        /// The dict.
        name: String,
        /// The key.
        key: OsString,
    },
    /// Print the keys, one a line.
    Keys {
        /// The dict.
        name: String,
    },
    /// Print KEY<TAB>VALUE lines (with --json: the dict as one JSON object).
    Items {
        /// The dict.
        name: String,
    },
    /// Print the number of keys.
    Len {
        /// The dict.
        name: String,
    },
    /// Add N (default 1; an integer or a decimal, may be negative) to
    /// KEY's number (0 if KEY is missing) in one step, and print the new
    /// value: a counter no two clients can lose an update of (an mp
    /// extension).
    Incr {
        /// The dict.
        name: String,
        /// The key.
        key: OsString,
        /// What to add.
        #[arg(default_value = "1", allow_negative_numbers = true, value_parser = parse_number)]
        n: NumberArg,
    },
}

/// A number given on the command line: an int, else a float.
#[derive(Debug, Clone)]
struct NumberArg(Value);

fn parse_number(s: &str) -> std::result::Result<NumberArg, String> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Ok(NumberArg(Value::Int(i)));
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(NumberArg(Value::Float(f))),
        _ => Err(format!("{s:?} is not a number")),
    }
}

/// `mp dict`.
pub fn dict(args: DictArgs) -> Result<i32> {
    let o = &args.opts;
    let named = |name: &str| o.named::<Proxy>(name, "dict", vec![]);
    let call = |d: &Proxy, method: &str, args: Vec<Value>| d.call_value(method, args, vec![]);
    match args.verb {
        DictVerb::Set { name, key, value } => {
            let v = o.parse(&value)?;
            call(&named(&name)?, "__setitem__", vec![key_value(&key), v]).at(o)?;
        }
        DictVerb::Get { name, key } => {
            match call(&named(&name)?, "__getitem__", vec![key_value(&key)]) {
                Ok(v) => o.print(&v)?,
                Err(mp::Error::KeyError(_)) => return Ok(NOTHING),
                Err(e) => return Err(e).at(o),
            }
        }
        DictVerb::Del { name, key } => {
            match call(&named(&name)?, "__delitem__", vec![key_value(&key)]) {
                Ok(_) => {}
                Err(mp::Error::KeyError(_)) => return Ok(NOTHING),
                Err(e) => return Err(e).at(o),
            }
        }
        DictVerb::Keys { name } => {
            let keys = call(&named(&name)?, "keys", vec![]).at(o)?;
            for k in keys.as_seq().unwrap_or(&[]) {
                o.print(k)?;
            }
        }
        DictVerb::Items { name } => {
            let d = named(&name)?;
            if o.json {
                o.print(&call(&d, "copy", vec![]).at(o)?)?;
            } else {
                let items = call(&d, "items", vec![]).at(o)?;
                let mut out = std::io::stdout().lock();
                for pair in items.as_seq().unwrap_or(&[]) {
                    if let Some([k, v]) = pair.as_seq() {
                        use std::io::Write;
                        out.write_all(&super::format_value(k, false))?;
                        out.write_all(b"\t")?;
                        out.write_all(&super::format_value(v, false))?;
                        out.write_all(b"\n")?;
                    }
                }
                std::io::Write::flush(&mut out)?;
            }
        }
        DictVerb::Len { name } => {
            o.print(&call(&named(&name)?, "__len__", vec![]).at(o)?)?;
        }
        DictVerb::Incr { name, key, n } => {
            let v = call(&named(&name)?, "incr", vec![key_value(&key), n.0]).at(o)?;
            o.print(&v)?;
        }
    }
    Ok(0)
}

const LIST_AFTER: &str = "\
NAME is a list on the manager, made on first use; Python's register('NAME')
gives a proxy to the same list. Values are strings unless --json.

Examples:
  mp list append results \"$(hostname) ok\"
  mp list get results -1          # the last one
  mp list items results           # one value a line
  mp list items --json results    # one JSON array

Exit codes: 0 done; 1 get: INDEX out of range; 2 usage error, or NAME is not
a list; 3 the manager cannot be reached or the connection broke; 4 the
manager refused.";

/// Arguments of `mp list`.
#[derive(Debug, Args)]
#[command(after_help = LIST_AFTER)]
pub struct ListArgs {
    #[command(flatten)]
    opts: ManagerOpts,
    #[command(subcommand)]
    verb: ListVerb,
}

#[derive(Debug, Subcommand)]
enum ListVerb {
    /// Append each VALUE, in order.
    Append {
        /// The list.
        name: String,
        /// The values.
        #[arg(required = true)]
        values: Vec<OsString>,
    },
    /// Print the value at INDEX (0 is the first, -1 the last); exit 1 if
    /// there is none.
    Get {
        /// The list.
        name: String,
        /// The index.
        #[arg(allow_negative_numbers = true)]
        index: i64,
    },
    /// Print the number of values.
    Len {
        /// The list.
        name: String,
    },
    /// Print the values, one a line (with --json: one JSON array).
    Items {
        /// The list.
        name: String,
    },
}

/// `mp list`.
pub fn list(args: ListArgs) -> Result<i32> {
    let o = &args.opts;
    let named = |name: &str| o.named::<Proxy>(name, "list", vec![]);
    match args.verb {
        ListVerb::Append { name, values } => {
            let items = values
                .iter()
                .map(|v| o.parse(v))
                .collect::<Result<Vec<_>>>()?;
            named(&name)?
                .call_value("extend", vec![Value::List(items)], vec![])
                .at(o)?;
        }
        ListVerb::Get { name, index } => {
            match named(&name)?.call_value("__getitem__", vec![Value::Int(index)], vec![]) {
                Ok(v) => o.print(&v)?,
                Err(mp::Error::Python { exception, .. }) if exception == "IndexError" => {
                    return Ok(NOTHING)
                }
                Err(e) => return Err(e).at(o),
            }
        }
        ListVerb::Len { name } => {
            o.print(&named(&name)?.call_value("__len__", vec![], vec![]).at(o)?)?;
        }
        ListVerb::Items { name } => {
            let items = named(&name)?.call_value("copy", vec![], vec![]).at(o)?;
            if o.json {
                o.print(&items)?;
            } else {
                for v in items.as_seq().unwrap_or(&[]) {
                    o.print(v)?;
                }
            }
        }
    }
    Ok(0)
}

const VALUE_AFTER: &str = "\
NAME is a shared value on the manager (Python's manager.Value), made on
first use holding None; Python's register('NAME') gives a proxy whose
get() and set() reach it. Values are strings unless --json.

Examples:
  mp value set phase loading
  phase=$(mp value get phase) || phase=unset
  mp value set --json threshold 0.75

Exit codes: 0 done; 1 get: the value is unset (None: never set, or set to
None); 2 usage error, or NAME is not a value; 3 the manager cannot be
reached or the connection broke; 4 the manager refused.";

/// Arguments of `mp value`.
#[derive(Debug, Args)]
#[command(after_help = VALUE_AFTER)]
pub struct ValueArgs {
    #[command(flatten)]
    opts: ManagerOpts,
    #[command(subcommand)]
    verb: ValueVerb,
}

#[derive(Debug, Subcommand)]
enum ValueVerb {
    /// Print the value; exit 1, printing nothing, while it is unset (None).
    Get {
        /// The value.
        name: String,
    },
    /// Set the value.
    Set {
        /// The value.
        name: String,
        /// What it becomes.
        value: OsString,
    },
}

/// `mp value`.
pub fn value(args: ValueArgs) -> Result<i32> {
    let o = &args.opts;
    // Python's manager.Value(typecode, value): the typecode is not used.
    let named = |name: &str| o.named::<Proxy>(name, "Value", vec![Value::None, Value::None]);
    match args.verb {
        ValueVerb::Get { name } => match named(&name)?.call_value("get", vec![], vec![]).at(o)? {
            Value::None => return Ok(NOTHING),
            v => o.print(&v)?,
        },
        ValueVerb::Set { name, value } => {
            let v = o.parse(&value)?;
            named(&name)?.call_value("set", vec![v], vec![]).at(o)?;
        }
    }
    Ok(0)
}
