//! What runs after a pass, observed again only where the pass changed something.

use std::borrow::Cow;

use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::runtime::{ObservedWorld, Runtime, RuntimeError};
use crate::spec::TenantName;

/// Up to this many changed tenants are observed one by one (and that many at once); more are
/// observed in one go, which costs one inspect per container of the instance.
const ONE_BY_ONE: usize = 8;

/// `before`, with the tenants in `changed` observed again: nothing is asked of the runtime when
/// nothing changed.
pub async fn observe_after<'a>(
    runtime: &dyn Runtime,
    before: &'a ObservedWorld,
    changed: &[TenantName],
) -> Result<Cow<'a, ObservedWorld>, RuntimeError> {
    if changed.is_empty() {
        return Ok(Cow::Borrowed(before));
    }
    if changed.len() > ONE_BY_ONE {
        return Ok(Cow::Owned(runtime.observe(&[], &[]).await?));
    }
    // Made before they are streamed, so that this future is `Send` (see `execute_with`).
    let looks: Vec<_> = changed
        .iter()
        .map(|t| async move { runtime.observe_tenant(t, &[], &[]).await.map(|w| (t.clone(), w)) })
        .collect();
    let fresh: Vec<(TenantName, ObservedWorld)> =
        stream::iter(looks).buffer_unordered(ONE_BY_ONE).try_collect().await?;
    let mut world = before.clone();
    for (tenant, mut seen) in fresh {
        match seen.tenants.remove(&tenant) {
            Some(now) => world.tenants.insert(tenant, now),
            None => world.tenants.remove(&tenant),
        };
    }
    Ok(Cow::Owned(world))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::fake::{Call, FakeRuntime};
    use crate::runtime::{ObservedNetwork, ObservedTenant};

    fn name(s: &str) -> TenantName {
        s.parse().unwrap()
    }

    fn with_network(t: &str) -> ObservedTenant {
        let mut o = ObservedTenant::empty(name(t));
        o.network = Some(ObservedNetwork { id: format!("id-{t}"), name: format!("net-{t}"), internal: false });
        o
    }

    #[tokio::test]
    async fn only_changed_tenants_are_observed_again() {
        let fake = FakeRuntime::new();
        fake.with_world(|w| {
            for t in ["a", "b"] {
                w.tenants.insert(name(t), with_network(t));
            }
        });
        let before = fake.observe(&[], &[]).await.unwrap();
        // Both change on the runtime; only a changed in the pass.
        fake.with_world(|w| {
            w.tenants.remove(&name("a"));
            w.tenants.get_mut(&name("b")).unwrap().network = None;
        });
        fake.clear_calls();

        let unchanged = observe_after(&fake, &before, &[]).await.unwrap();
        assert!(matches!(unchanged, Cow::Borrowed(_)));
        assert!(fake.calls().is_empty(), "{:?}", fake.calls());

        let after = observe_after(&fake, &before, &[name("a")]).await.unwrap();
        assert!(!after.tenants.contains_key(&name("a")), "a is observed again, and gone");
        assert_eq!(after.tenants[&name("b")], before.tenants[&name("b")], "b is taken from before");
        assert_eq!(fake.calls(), vec![Call::Observe]);
    }
}
