//! `tenantd take-over`: this state directory becomes the owner of its instance on the engine.

use crate::config::DaemonConfig;
use crate::reconcile::{owner, StateLock};

pub async fn run(cfg: &DaemonConfig) -> anyhow::Result<u8> {
    let _lock = StateLock::acquire(&cfg.state_dir)?;
    let runtime = super::connect(cfg).await?;
    let previous = owner::take_over(runtime.as_ref(), &cfg.instance, &cfg.state_dir).await?;
    let me = owner::StateIdentity::read(&cfg.state_dir)?;
    match previous {
        Some(previous) => println!(
            "instance {}: taken over by {} on {} from {previous}; that state directory now refuses to change anything",
            cfg.instance, me.state_dir, me.host
        ),
        None => println!("instance {}: owned by {} on {}", cfg.instance, me.state_dir, me.host),
    }
    Ok(0)
}
