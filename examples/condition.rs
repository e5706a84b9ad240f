//! A Condition shared by processes: consumers wait until a producer has
//! made an item available, take it under the condition's lock, and the
//! producer waits until every item is taken.
//!
//! `cargo run --example condition`
use std::time::Duration;

use mp::sharedctypes::{Array, RawValue};
use mp::synchronize::Condition;
use mp::Process;

const ITEMS: u32 = 12;

/// `available` counts items made and not yet taken; `next` numbers them.
fn consumer(
    (cv, available, next, taken_by): (Condition, RawValue<u32>, RawValue<u32>, Array<u32>),
) {
    let me = mp::current_process().pid;
    loop {
        let item = {
            let _held = cv.lock().unwrap();
            // Wait until there is an item, or all have been handed out.
            cv.wait_for(|| available.get() > 0 || next.get() == ITEMS, None)
                .unwrap();
            if available.get() == 0 {
                return; // all done
            }
            available.set(available.get() - 1);
            let item = next.get();
            next.set(item + 1);
            cv.notify_all(); // the producer waits for items to be taken
            item
        }; // the lock is released here
        taken_by.set(item as usize, me as u32).unwrap();
        println!("process {me} took item {item}");
        std::thread::sleep(Duration::from_millis(50)); // work on it
    }
}

fn main() {
    mp::freeze_support();
    let cv = Condition::new(None).unwrap();
    let available = RawValue::new(0u32).unwrap();
    let next = RawValue::new(0u32).unwrap();
    let taken_by = Array::new(0u32, ITEMS as usize).unwrap();
    let consumers: Vec<Process> = (0..3)
        .map(|_| {
            Process::new(
                consumer,
                (
                    cv.clone(),
                    available.clone(),
                    next.clone(),
                    taken_by.clone(),
                ),
            )
        })
        .collect();
    for c in &consumers {
        c.start().unwrap();
    }
    for _ in 0..ITEMS {
        std::thread::sleep(Duration::from_millis(20));
        let _held = cv.lock().unwrap();
        available.set(available.get() + 1);
        cv.notify(1); // wake one consumer for one item
    }
    {
        let _held = cv.lock().unwrap();
        cv.wait_for(|| next.get() == ITEMS, None).unwrap();
        cv.notify_all(); // and let the consumers see that all are taken
    }
    for c in &consumers {
        c.join(None).unwrap();
    }
    println!("taken by: {:?}", taken_by.to_vec());
}
