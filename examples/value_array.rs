//! The seed docs' shared-memory example: a `Value` and an `Array` changed
//! by a child process. Prints `3.1415927` and `[0, -1, -2, ... -9]`.
//!
//! `cargo run --example value_array`
use mp::sharedctypes::{Array, Value};
use mp::Process;

fn f((n, a): (Value<f64>, Array<i32>)) {
    #[allow(clippy::approx_constant)] // the docs' own figure, not PI
    n.set(3.1415927);
    a.update(|xs| {
        for x in xs.iter_mut() {
            *x = -*x;
        }
    });
}

fn main() {
    mp::freeze_support();
    let num = Value::new(0.0f64).unwrap();
    let arr = Array::from_slice(&(0..10).collect::<Vec<i32>>()).unwrap();
    let p = Process::new(f, (num.clone(), arr.clone()));
    p.start().unwrap();
    p.join(None).unwrap();
    println!("{}", num.get());
    println!("{:?}", arr.to_vec());
}
