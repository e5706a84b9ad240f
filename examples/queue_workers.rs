//! The seed docs' example of queues feeding tasks to a collection of worker
//! processes and collecting the results (the tasks sleep a random while, so
//! results come back out of order).
//!
//! `cargo run --example queue_workers`
use std::time::Duration;

use mp::queues::Queue;
use mp::{current_process, Process};
use serde::{Deserialize, Serialize};

/// A task names its function, as CPython's example passes `mul` and `plus`.
#[derive(Serialize, Deserialize, Debug)]
enum Task {
    Mul(i64, i64),
    Plus(i64, i64),
    Stop,
}

fn nap() {
    let mut b = [0u8; 2];
    getrandom::getrandom(&mut b).unwrap();
    std::thread::sleep(Duration::from_millis(
        u64::from(u16::from_le_bytes(b)) % 500,
    ));
}

fn calculate(task: &Task) -> String {
    let (name, a, b, result) = match *task {
        Task::Mul(a, b) => {
            nap();
            ("mul", a, b, a * b)
        }
        Task::Plus(a, b) => {
            nap();
            ("plus", a, b, a + b)
        }
        Task::Stop => unreachable!("stop is not calculated"),
    };
    format!(
        "{} says that {name}({a}, {b}) = {result}",
        current_process().name
    )
}

fn worker((input, output): (Queue<Task>, Queue<String>)) {
    loop {
        match input.get().unwrap() {
            Task::Stop => break,
            task => output.put(&calculate(&task)).unwrap(),
        }
    }
}

const NUMBER_OF_PROCESSES: usize = 4;

fn main() {
    mp::freeze_support();
    let tasks1: Vec<Task> = (0..20).map(|i| Task::Mul(i, 7)).collect();
    let tasks2: Vec<Task> = (0..10).map(|i| Task::Plus(i, 8)).collect();

    let task_queue: Queue<Task> = Queue::new(0).unwrap();
    let done_queue: Queue<String> = Queue::new(0).unwrap();
    for task in &tasks1 {
        task_queue.put(task).unwrap();
    }
    let workers: Vec<Process> = (0..NUMBER_OF_PROCESSES)
        .map(|_| Process::new(worker, (task_queue.clone(), done_queue.clone())))
        .collect();
    for w in &workers {
        w.start().unwrap();
    }

    println!("Unordered results:");
    for _ in 0..tasks1.len() {
        println!("\t{}", done_queue.get().unwrap());
    }
    for task in &tasks2 {
        task_queue.put(task).unwrap();
    }
    for _ in 0..tasks2.len() {
        println!("\t{}", done_queue.get().unwrap());
    }
    for _ in 0..NUMBER_OF_PROCESSES {
        task_queue.put(&Task::Stop).unwrap();
    }
    for w in &workers {
        w.join(None).unwrap();
    }
}
