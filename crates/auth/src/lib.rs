//! warden-auth: pure authentication primitives for Warden.
//!
//! No I/O, no async, no database. Everything here is deterministic given its
//! inputs, except for the functions that draw randomness from the operating
//! system (`hash_password`, `TotpSecret::generate`, `random_token`).
//!
//! * Passwords: Argon2id (PHC strings) with the OWASP-recommended parameters
//!   m = 19456 KiB, t = 2, p = 1, and a separate length policy.
//! * TOTP (RFC 6238) on top of HOTP (RFC 4226), implemented here, with
//!   replay protection driven by the caller's stored "last used step".
//! * Opaque bearer tokens and their SHA-256 digests (servers store digests).
//! * An in-memory, thread-safe login rate limiter with an injected clock.
//! * Hash-chained audit entries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD, HEXLOWER};
use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Errors of the authentication primitives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The password is shorter than the policy minimum.
    #[error("password is too short: it has {actual} characters, at least {min} are required")]
    PasswordTooShort { min: usize, actual: usize },
    /// The password is longer than the policy maximum.
    #[error("password is too long: it has {actual} characters, at most {max} are allowed")]
    PasswordTooLong { max: usize, actual: usize },
    /// Argon2 failed to hash (should not happen with valid parameters).
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// A TOTP secret was not valid RFC 4648 base32.
    #[error("invalid TOTP secret: {0}")]
    InvalidSecret(String),
    /// The data does not fit into a QR code.
    #[error("cannot render QR code: {0}")]
    QrCode(String),
}

/// Errors of TOTP verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    /// The code is malformed or does not match any accepted time step.
    #[error("invalid one-time code")]
    Invalid,
    /// The code matches, but its time step has already been used.
    #[error("one-time code has already been used")]
    Replayed,
}

// ---------------------------------------------------------------------------
// Passwords
// ---------------------------------------------------------------------------

/// Minimum password length, in Unicode scalar values.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Maximum password length, in Unicode scalar values (guards against abuse;
/// long passphrases are still welcome).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// Argon2id memory cost in KiB (OWASP recommendation).
pub const ARGON2_M_COST_KIB: u32 = 19_456;
/// Argon2id iterations (OWASP recommendation).
pub const ARGON2_T_COST: u32 = 2;
/// Argon2id parallelism (OWASP recommendation).
pub const ARGON2_P_COST: u32 = 1;

fn argon2id() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|e| AuthError::Hashing(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Checks the password policy: at least [`MIN_PASSWORD_CHARS`] and at most
/// [`MAX_PASSWORD_CHARS`] characters. Call this before [`hash_password`] when
/// a user chooses a new password (hashing itself does not enforce the policy).
pub fn check_password_policy(pw: &str) -> Result<(), AuthError> {
    let n = pw.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(AuthError::PasswordTooShort {
            min: MIN_PASSWORD_CHARS,
            actual: n,
        });
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(AuthError::PasswordTooLong {
            max: MAX_PASSWORD_CHARS,
            actual: n,
        });
    }
    Ok(())
}

/// Hashes a password with Argon2id (m=19456 KiB, t=2, p=1, random 16-byte
/// salt) and returns the PHC string, e.g. `$argon2id$v=19$m=19456,t=2,p=1$...`.
pub fn hash_password(pw: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = argon2id()?
        .hash_password(pw.as_bytes(), &salt)
        .map_err(|e| AuthError::Hashing(e.to_string()))?;
    Ok(hash.to_string())
}

/// Verifies a password against a PHC string. Returns `false` for a wrong
/// password and for a malformed or non-Argon2 PHC string. The parameters
/// stored in the PHC string are used, so hashes made with older parameters
/// still verify.
pub fn verify_password(phc: &str, pw: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(pw.as_bytes(), &parsed)
        .is_ok()
}

// ---------------------------------------------------------------------------
// HOTP / TOTP
// ---------------------------------------------------------------------------

/// A TOTP shared secret (raw bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret itself.
        write!(f, "TotpSecret({} bytes)", self.0.len())
    }
}

impl TotpSecret {
    /// 20 random bytes (160 bits, the RFC 4226 recommended length for SHA-1).
    pub fn generate() -> Self {
        let mut b = vec![0u8; 20];
        OsRng.fill_bytes(&mut b);
        TotpSecret(b)
    }

    /// RFC 4648 base32, upper case, without padding (as authenticator apps expect).
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// Parses base32 as typed by people: case-insensitive, spaces, dashes and
    /// trailing `=` padding ignored.
    pub fn from_base32(s: &str) -> Result<Self, AuthError> {
        let cleaned: String = s
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if cleaned.is_empty() {
            return Err(AuthError::InvalidSecret("secret is empty".into()));
        }
        BASE32_NOPAD
            .decode(cleaned.as_bytes())
            .map(TotpSecret)
            .map_err(|e| AuthError::InvalidSecret(format!("not valid base32: {e}")))
    }

    /// Wraps raw secret bytes (e.g. decrypted from storage).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        TotpSecret(bytes)
    }

    /// The raw secret bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// HMAC algorithm of HOTP/TOTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TotpAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl TotpAlgorithm {
    /// Name as used in the `algorithm` parameter of otpauth URIs.
    pub fn as_str(self) -> &'static str {
        match self {
            TotpAlgorithm::Sha1 => "SHA1",
            TotpAlgorithm::Sha256 => "SHA256",
            TotpAlgorithm::Sha512 => "SHA512",
        }
    }
}

fn hmac_digest(alg: TotpAlgorithm, key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so new_from_slice cannot fail.
    match alg {
        TotpAlgorithm::Sha1 => {
            let mut m = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        TotpAlgorithm::Sha256 => {
            let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        TotpAlgorithm::Sha512 => {
            let mut m =
                Hmac::<sha2::Sha512>::new_from_slice(key).expect("HMAC takes any key length");
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
    }
}

/// HOTP (RFC 4226): HMAC over the 8-byte big-endian counter, dynamic
/// truncation, modulo 10^digits, zero-padded. `digits` is clamped to 1..=10.
pub fn hotp_code(secret: &[u8], alg: TotpAlgorithm, counter: u64, digits: u32) -> String {
    let digits = digits.clamp(1, 10);
    let mac = hmac_digest(alg, secret, &counter.to_be_bytes());
    let offset = (mac[mac.len() - 1] & 0x0f) as usize;
    let bin = (u32::from(mac[offset] & 0x7f) << 24)
        | (u32::from(mac[offset + 1]) << 16)
        | (u32::from(mac[offset + 2]) << 8)
        | u32::from(mac[offset + 3]);
    let value = u64::from(bin) % 10u64.pow(digits);
    format!("{:0width$}", value, width = digits as usize)
}

/// The TOTP time step of `unix_time` (floor division, so times before the
/// epoch do not round towards zero).
pub fn totp_step(unix_time: i64, step_secs: i64) -> i64 {
    unix_time.div_euclid(step_secs.max(1))
}

/// TOTP (RFC 6238): HOTP with counter T = floor(unix_time / step_secs).
/// Times before the epoch (negative steps) are clamped to step 0.
pub fn totp_code(
    secret: &[u8],
    alg: TotpAlgorithm,
    unix_time: i64,
    step_secs: i64,
    digits: u32,
) -> String {
    let step = totp_step(unix_time, step_secs).max(0) as u64;
    hotp_code(secret, alg, step, digits)
}

/// Time step length used by Warden (and by authenticator apps by default).
pub const TOTP_STEP_SECS: i64 = 30;
/// Number of digits used by Warden.
pub const TOTP_DIGITS: u32 = 6;
/// Accepted clock skew, in steps, either side of the current one.
pub const TOTP_SKEW_STEPS: i64 = 1;

/// Verifies a 6-digit SHA-1 TOTP code with 30 s steps, accepting one step of
/// clock skew either way. Spaces in the code are ignored ("123 456").
///
/// On success returns the matched time step, which the caller must store and
/// pass back as `last_used_step` next time: a code whose step is `<=
/// last_used_step` is rejected with [`TotpError::Replayed`]. The comparison
/// is constant-time and every candidate step is always computed.
pub fn verify_totp(
    secret: &TotpSecret,
    code: &str,
    unix_time: i64,
    last_used_step: Option<i64>,
) -> Result<i64, TotpError> {
    let code: String = code.chars().filter(|c| *c != ' ').collect();
    if code.len() != TOTP_DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TotpError::Invalid);
    }
    let now_step = totp_step(unix_time, TOTP_STEP_SECS);
    let mut best_fresh: Option<i64> = None;
    let mut replayed = false;
    for step in (now_step - TOTP_SKEW_STEPS)..=(now_step + TOTP_SKEW_STEPS) {
        if step < 0 {
            continue;
        }
        let expected = hotp_code(&secret.0, TotpAlgorithm::Sha1, step as u64, TOTP_DIGITS);
        let matched: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
        if matched {
            if last_used_step.is_some_and(|last| step <= last) {
                replayed = true;
            } else {
                best_fresh = Some(best_fresh.map_or(step, |b: i64| b.max(step)));
            }
        }
    }
    match best_fresh {
        Some(step) => Ok(step),
        None if replayed => Err(TotpError::Replayed),
        None => Err(TotpError::Invalid),
    }
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Key Uri Format enrolment URI:
/// `otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30`,
/// with issuer and account percent-encoded (a space becomes `%20`).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &TotpSecret) -> String {
    let issuer_enc = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer_enc}:{account}?secret={secret}&issuer={issuer_enc}&algorithm={alg}&digits={TOTP_DIGITS}&period={TOTP_STEP_SECS}",
        account = percent_encode(account),
        secret = secret.to_base32(),
        alg = TotpAlgorithm::Sha1.as_str(),
    )
}

/// Renders `data` as a QR code (error correction level M) in a compact SVG:
/// one `<path>` made of horizontal runs of dark modules, one user unit per
/// module, a 4-module quiet zone, displayed at 6 px per module, no XML
/// declaration (so it can be inlined into HTML). Fails only when the data
/// does not fit into a QR code (about 2.3 KB of binary data at level M).
pub fn qr_svg(data: &str) -> Result<String, AuthError> {
    use std::fmt::Write;
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| AuthError::QrCode(e.to_string()))?;
    let width = code.width();
    let colors = code.to_colors();
    const QUIET: usize = 4;
    let size = width + 2 * QUIET;
    let px = size * 6;
    let mut path = String::new();
    for y in 0..width {
        let row = &colors[y * width..(y + 1) * width];
        let mut x = 0;
        while x < width {
            if row[x] == qrcode::Color::Dark {
                let start = x;
                while x < width && row[x] == qrcode::Color::Dark {
                    x += 1;
                }
                let run = x - start;
                // Writing to a String cannot fail.
                let _ = write!(path, "M{} {}h{run}v1h-{run}z", start + QUIET, y + QUIET);
            } else {
                x += 1;
            }
        }
    }
    Ok(format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{px}" height="{px}" "#,
            r#"viewBox="0 0 {size} {size}" shape-rendering="crispEdges">"#,
            r##"<rect width="{size}" height="{size}" fill="#fff"/>"##,
            r##"<path fill="#000" d="{path}"/></svg>"##
        ),
        px = px,
        size = size,
        path = path
    ))
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

/// A fresh opaque token: 32 random bytes, base64url without padding (43 chars).
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    BASE64URL_NOPAD.encode(&b)
}

/// SHA-256 of the token, lower-case hex. Store only this on the server.
pub fn token_digest(token: &str) -> String {
    HEXLOWER.encode(&Sha256::digest(token.as_bytes()))
}

// ---------------------------------------------------------------------------
// Rate limiting
// ---------------------------------------------------------------------------

/// In-memory, thread-safe sliding-window limiter of failed attempts per key
/// (for example per username and per client address).
///
/// A key is blocked while it has `max_failures` failures within the last
/// `window`; [`RateLimiter::check`] then returns how long until the oldest of
/// them leaves the window. Memory is bounded: each key keeps at most
/// `max_failures` timestamps, expired keys are swept at least once per
/// window, and at most `max_keys` keys are tracked (when full and nothing
/// has expired, the key with the oldest latest failure is evicted).
pub struct RateLimiter {
    max_failures: usize,
    window: Duration,
    max_keys: usize,
    state: Mutex<LimiterState>,
}

struct LimiterState {
    entries: HashMap<String, Vec<Instant>>,
    last_sweep: Option<Instant>,
}

impl RateLimiter {
    /// Default bound on the number of tracked keys.
    pub const DEFAULT_MAX_KEYS: usize = 100_000;

    /// `max_failures` failures per `window` per key (at least 1 failure).
    pub fn new(max_failures: usize, window: Duration) -> Self {
        Self::with_capacity_limit(max_failures, window, Self::DEFAULT_MAX_KEYS)
    }

    /// Warden's login default: 5 failures per 15 minutes.
    pub fn login_default() -> Self {
        Self::new(5, Duration::from_secs(15 * 60))
    }

    /// Like [`RateLimiter::new`] with an explicit bound on tracked keys.
    pub fn with_capacity_limit(max_failures: usize, window: Duration, max_keys: usize) -> Self {
        RateLimiter {
            max_failures: max_failures.max(1),
            window,
            max_keys: max_keys.max(1),
            state: Mutex::new(LimiterState {
                entries: HashMap::new(),
                last_sweep: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        // A panic while holding the lock cannot leave the map inconsistent
        // in a way that matters here, so recover from poisoning.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_live(&self, t: Instant, now: Instant) -> bool {
        now.saturating_duration_since(t) < self.window
    }

    /// `Ok(())` if the key may try again now, otherwise `Err(retry_after)`.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut st = self.lock();
        let Some(times) = st.entries.get_mut(key) else {
            return Ok(());
        };
        times.retain(|t| now.saturating_duration_since(*t) < self.window);
        if times.is_empty() {
            st.entries.remove(key);
            return Ok(());
        }
        if times.len() >= self.max_failures {
            let oldest = times[0];
            let retry = (oldest + self.window).saturating_duration_since(now);
            return Err(retry.max(Duration::from_millis(1)));
        }
        Ok(())
    }

    /// Records a failed attempt for `key` at `now`.
    pub fn record_failure(&self, key: &str, now: Instant) {
        let mut st = self.lock();
        let due = st
            .last_sweep
            .is_none_or(|s| now.saturating_duration_since(s) >= self.window);
        if due || (!st.entries.contains_key(key) && st.entries.len() >= self.max_keys) {
            st.entries
                .retain(|_, v| v.last().is_some_and(|t| self.is_live(*t, now)));
            st.last_sweep = Some(now);
        }
        if !st.entries.contains_key(key) && st.entries.len() >= self.max_keys {
            let victim = st
                .entries
                .iter()
                .min_by_key(|(_, v)| v.last().copied())
                .map(|(k, _)| k.clone());
            if let Some(k) = victim {
                st.entries.remove(&k);
            }
        }
        let times = st.entries.entry(key.to_string()).or_default();
        times.retain(|t| now.saturating_duration_since(*t) < self.window);
        times.push(now);
        if times.len() > self.max_failures {
            let excess = times.len() - self.max_failures;
            times.drain(..excess);
        }
    }

    /// Forgets all failures of `key` (call after a successful login).
    pub fn reset(&self, key: &str) {
        self.lock().entries.remove(key);
    }

    /// Number of keys currently tracked (for monitoring and tests).
    pub fn tracked_keys(&self) -> usize {
        self.lock().entries.len()
    }
}

// ---------------------------------------------------------------------------
// Audit hash chain
// ---------------------------------------------------------------------------

/// SHA-256 (lower-case hex) of `prev_hash || "\n" || canonical_entry`.
pub fn audit_chain_hash(prev_hash: &str, canonical_entry: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical_entry.as_bytes());
    HEXLOWER.encode(&h.finalize())
}

/// Verifies a chain of `(canonical entry, stored hash)` pairs starting from
/// `genesis`. Returns the index of the first entry whose stored hash does not
/// match (a modified, inserted, removed or reordered entry breaks the chain
/// there).
pub fn verify_chain(entries: &[(String, String)], genesis: &str) -> Result<(), usize> {
    let mut prev = genesis;
    for (i, (canonical, stored)) in entries.iter().enumerate() {
        let expected = audit_chain_hash(prev, canonical);
        let ok: bool = expected.as_bytes().ct_eq(stored.as_bytes()).into();
        if !ok {
            return Err(i);
        }
        prev = stored;
    }
    Ok(())
}
