//! `llamadeck fetch-demo`: the demo model put where llamadeck looks for it (see
//! `engine::demo`), its path printed on stdout, what happens on stderr.
use crate::cli::FetchDemoCli;
use llamadeck_engine::demo::{DEMO, Fetched, fetch};
use llamadeck_engine::demo_model_path;

/// Returns the exit code: 0 when the model is in place, 1 when it could not be fetched.
pub fn run(args: &FetchDemoCli) -> i32 {
    let dest = demo_model_path();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            super::say(&format!("cannot start the runtime: {e}"));
            return 1;
        }
    };
    match runtime.block_on(fetch(&DEMO, &args.index_url, &dest, super::say)) {
        Ok(fetched) => {
            if fetched == Fetched::AlreadyThere {
                super::say("the demo model is already downloaded");
            }
            println!("{}", dest.display());
            0
        }
        Err(e) => {
            super::say(&format!("fetch-demo: {e}"));
            1
        }
    }
}
