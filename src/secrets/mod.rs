//! Tenant secrets: age-encrypted values in the specs, decrypted in memory only when they are
//! delivered into a tenant's tmpfs directory.

mod crypto;
mod deliver;

pub use crypto::{encrypt, keygen, CryptoError, Identities};
pub use deliver::{DeliveryError, SecretsRoot, TenantOwner};

/// Decrypted bytes. `Debug` shows only the length; the memory is wiped when dropped.
pub struct Plaintext(zeroize::Zeroizing<Vec<u8>>);

impl Plaintext {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(zeroize::Zeroizing::new(bytes))
    }

    /// The value, for the one place that writes it where the runtime reads it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(sensitive, {} bytes)", self.0.len())
    }
}
