use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_auth::*;

// ---------------------------------------------------------------- passwords

#[test]
fn password_hash_is_argon2id_with_owasp_params_and_verifies() {
    let pw = "correct horse battery staple";
    let phc = hash_password(pw).unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert!(verify_password(&phc, pw));
    assert!(!verify_password(&phc, "correct horse battery stapl"));
    assert!(!verify_password(&phc, ""));
    // Random salt: hashing twice gives different strings, both valid.
    let phc2 = hash_password(pw).unwrap();
    assert_ne!(phc, phc2);
    assert!(verify_password(&phc2, pw));
}

#[test]
fn verify_password_rejects_garbage_phc() {
    assert!(!verify_password("", "whatever-password"));
    assert!(!verify_password("not a phc string", "whatever-password"));
    assert!(!verify_password(
        "$argon2id$v=19$m=19456,t=2,p=1$broken",
        "whatever-password"
    ));
}

#[test]
fn password_policy_minimum_length() {
    let err = check_password_policy("short-pass1").unwrap_err(); // 11 chars
    assert_eq!(
        err,
        AuthError::PasswordTooShort {
            min: 12,
            actual: 11
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("at least 12"), "{msg}");
    assert!(msg.contains("11"), "{msg}");
    assert!(check_password_policy("twelve-chars").is_ok());
    // Counted in characters, not bytes: 11 multi-byte characters are too short.
    assert!(check_password_policy("ééééééééééé").is_err());
    assert!(check_password_policy(&"x".repeat(2000)).is_err());
}

// ---------------------------------------------------------------- HOTP / TOTP

const SEED_SHA1: &[u8] = b"12345678901234567890";
const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";

#[test]
fn rfc4226_appendix_d_hotp_values() {
    let expected = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    for (counter, want) in expected.iter().enumerate() {
        assert_eq!(
            hotp_code(SEED_SHA1, TotpAlgorithm::Sha1, counter as u64, 6),
            *want,
            "counter {counter}"
        );
    }
    // The truncated 31-bit values of Appendix D (decimal), visible with 10 digits.
    let truncated = [
        1284755224u64,
        1094287082,
        137359152,
        1726969429,
        1640338314,
        868254676,
        1918287922,
        82162583,
        673399871,
        645520489,
    ];
    for (counter, want) in truncated.iter().enumerate() {
        assert_eq!(
            hotp_code(SEED_SHA1, TotpAlgorithm::Sha1, counter as u64, 10),
            format!("{want:010}"),
            "counter {counter}"
        );
    }
}

#[test]
fn rfc6238_appendix_b_test_vectors() {
    use TotpAlgorithm::*;
    let table: [(i64, &str, &str, &str); 6] = [
        (59, "94287082", "46119246", "90693936"),
        (1111111109, "07081804", "68084774", "25091201"),
        (1111111111, "14050471", "67062674", "99943326"),
        (1234567890, "89005924", "91819424", "93441116"),
        (2000000000, "69279037", "90698825", "38618901"),
        (20000000000, "65353130", "77737706", "47863826"),
    ];
    for (t, sha1, sha256, sha512) in table {
        assert_eq!(totp_code(SEED_SHA1, Sha1, t, 30, 8), sha1, "SHA1 at {t}");
        assert_eq!(
            totp_code(SEED_SHA256, Sha256, t, 30, 8),
            sha256,
            "SHA256 at {t}"
        );
        assert_eq!(
            totp_code(SEED_SHA512, Sha512, t, 30, 8),
            sha512,
            "SHA512 at {t}"
        );
    }
}

#[test]
fn totp_step_boundaries() {
    assert_eq!(totp_step(0, 30), 0);
    assert_eq!(totp_step(29, 30), 0);
    assert_eq!(totp_step(30, 30), 1);
    assert_eq!(totp_step(-1, 30), -1);
    // Same code within a step, different code in the next.
    let a = totp_code(SEED_SHA1, TotpAlgorithm::Sha1, 60, 30, 6);
    let b = totp_code(SEED_SHA1, TotpAlgorithm::Sha1, 89, 30, 6);
    let c = totp_code(SEED_SHA1, TotpAlgorithm::Sha1, 90, 30, 6);
    assert_eq!(a, b);
    assert_ne!(a, c);
}

fn rfc_secret() -> TotpSecret {
    TotpSecret::from_bytes(SEED_SHA1.to_vec())
}

#[test]
fn verify_totp_accepts_current_code_and_returns_step() {
    let s = rfc_secret();
    let t = 1_111_111_111;
    let code = totp_code(s.as_bytes(), TotpAlgorithm::Sha1, t, 30, 6);
    assert_eq!(code, "050471"); // last 6 digits of the RFC 6238 SHA1 vector
    assert_eq!(verify_totp(&s, &code, t, None), Ok(t / 30));
    // Spaces as typed by users are ignored.
    assert_eq!(verify_totp(&s, "050 471", t, None), Ok(t / 30));
}

#[test]
fn verify_totp_clock_skew_of_one_step_only() {
    let s = rfc_secret();
    let t = 1_234_567_890; // step 41152263
    let step = t / 30;
    let prev = hotp_code(s.as_bytes(), TotpAlgorithm::Sha1, (step - 1) as u64, 6);
    let next = hotp_code(s.as_bytes(), TotpAlgorithm::Sha1, (step + 1) as u64, 6);
    let prev2 = hotp_code(s.as_bytes(), TotpAlgorithm::Sha1, (step - 2) as u64, 6);
    let next2 = hotp_code(s.as_bytes(), TotpAlgorithm::Sha1, (step + 2) as u64, 6);
    assert_eq!(verify_totp(&s, &prev, t, None), Ok(step - 1));
    assert_eq!(verify_totp(&s, &next, t, None), Ok(step + 1));
    assert_eq!(verify_totp(&s, &prev2, t, None), Err(TotpError::Invalid));
    assert_eq!(verify_totp(&s, &next2, t, None), Err(TotpError::Invalid));
}

#[test]
fn verify_totp_rejects_replay() {
    let s = rfc_secret();
    let t = 2_000_000_000;
    let code = totp_code(s.as_bytes(), TotpAlgorithm::Sha1, t, 30, 6);
    let step = verify_totp(&s, &code, t, None).unwrap();
    // Same code again (even 10 s later, still in the same step) is a replay.
    assert_eq!(
        verify_totp(&s, &code, t + 10, Some(step)),
        Err(TotpError::Replayed)
    );
    // A code of an older step is also refused once a newer one was used.
    let older = hotp_code(s.as_bytes(), TotpAlgorithm::Sha1, (step - 1) as u64, 6);
    assert_eq!(
        verify_totp(&s, &older, t, Some(step)),
        Err(TotpError::Replayed)
    );
    // The next step's code is fine.
    let next = totp_code(s.as_bytes(), TotpAlgorithm::Sha1, t + 30, 30, 6);
    assert_eq!(verify_totp(&s, &next, t + 30, Some(step)), Ok(step + 1));
}

#[test]
fn verify_totp_rejects_wrong_and_malformed_codes() {
    let s = rfc_secret();
    let t = 1_111_111_109;
    let good = totp_code(s.as_bytes(), TotpAlgorithm::Sha1, t, 30, 6);
    let wrong = format!("{:06}", (good.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_eq!(verify_totp(&s, &wrong, t, None), Err(TotpError::Invalid));
    for bad in [
        "",
        "12345",
        "1234567",
        "abcdef",
        "12345a",
        "１２３４５６",
        "-12345",
    ] {
        assert_eq!(
            verify_totp(&s, bad, t, None),
            Err(TotpError::Invalid),
            "{bad:?}"
        );
    }
    // The 8-digit RFC code is not accepted by the 6-digit verifier.
    assert_eq!(
        verify_totp(&s, "07081804", t, None),
        Err(TotpError::Invalid)
    );
}

#[test]
fn totp_secret_generate_and_base32_round_trip() {
    let a = TotpSecret::generate();
    let b = TotpSecret::generate();
    assert_eq!(a.as_bytes().len(), 20);
    assert_ne!(a, b);
    let enc = a.to_base32();
    assert_eq!(enc.len(), 32); // 160 bits / 5
    assert!(
        enc.chars()
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)),
        "{enc}"
    );
    assert!(!enc.contains('='));
    assert_eq!(TotpSecret::from_base32(&enc).unwrap(), a);
    // Lenient on case and grouping.
    let grouped = enc
        .to_lowercase()
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(TotpSecret::from_base32(&grouped).unwrap(), a);
    // RFC 4648 test vector.
    assert_eq!(
        TotpSecret::from_bytes(b"foobar".to_vec()).to_base32(),
        "MZXW6YTBOI"
    );
    assert!(matches!(
        TotpSecret::from_base32("not base32!"),
        Err(AuthError::InvalidSecret(_))
    ));
    assert!(matches!(
        TotpSecret::from_base32(""),
        Err(AuthError::InvalidSecret(_))
    ));
    // Debug never shows the secret.
    assert_eq!(format!("{a:?}"), "TotpSecret(20 bytes)");
}

#[test]
fn otpauth_uri_is_percent_encoded_key_uri() {
    let s = TotpSecret::from_bytes(b"foobar".to_vec());
    let uri = otpauth_uri("Warden UN", "alice@example.org", &s);
    assert_eq!(
        uri,
        "otpauth://totp/Warden%20UN:alice%40example.org?secret=MZXW6YTBOI&issuer=Warden%20UN&algorithm=SHA1&digits=6&period=30"
    );
    let uri = otpauth_uri("A&B", "x:y?z/ü", &s);
    assert!(
        uri.starts_with("otpauth://totp/A%26B:x%3Ay%3Fz%2F%C3%BC?"),
        "{uri}"
    );
    assert!(uri.contains("&issuer=A%26B&"), "{uri}");
}

#[test]
fn qr_svg_is_compact_svg() {
    let s = TotpSecret::generate();
    let uri = otpauth_uri("Warden", "alice@example.org", &s);
    let svg = qr_svg(&uri).unwrap();
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{}",
        &svg[..80]
    );
    assert!(svg.ends_with("</svg>"));
    assert_eq!(svg.matches("<path").count(), 1);
    assert!(svg.contains("viewBox=\"0 0 "));
    assert!(svg.len() < 12_000, "svg is {} bytes", svg.len());
    // Different data, different picture.
    assert_ne!(svg, qr_svg("otpauth://totp/other").unwrap());
    // Too much data is an error, not a panic.
    assert!(matches!(
        qr_svg(&"x".repeat(10_000)),
        Err(AuthError::QrCode(_))
    ));
}

// ---------------------------------------------------------------- tokens

#[test]
fn random_token_is_32_bytes_base64url() {
    let t = random_token();
    assert_eq!(t.len(), 43);
    assert!(
        t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{t}"
    );
    assert_ne!(t, random_token());
}

#[test]
fn token_digest_is_sha256_hex() {
    assert_eq!(
        token_digest("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        token_digest(""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

// ---------------------------------------------------------------- rate limiting

#[test]
fn rate_limiter_blocks_after_max_failures_and_recovers() {
    let rl = RateLimiter::new(5, Duration::from_secs(900));
    let t0 = Instant::now();
    for i in 0..5u64 {
        assert_eq!(rl.check("alice", t0 + Duration::from_secs(i)), Ok(()));
        rl.record_failure("alice", t0 + Duration::from_secs(i));
    }
    // 6th attempt at t0+10s: blocked until the first failure (t0) leaves the window.
    assert_eq!(
        rl.check("alice", t0 + Duration::from_secs(10)),
        Err(Duration::from_secs(890))
    );
    // Other keys are unaffected.
    assert_eq!(rl.check("bob", t0 + Duration::from_secs(10)), Ok(()));
    // Once the oldest failure expired, one more attempt is allowed.
    assert_eq!(rl.check("alice", t0 + Duration::from_secs(900)), Ok(()));
    // ...but a failure then blocks again until the next-oldest expires.
    rl.record_failure("alice", t0 + Duration::from_secs(900));
    assert_eq!(
        rl.check("alice", t0 + Duration::from_secs(900)),
        Err(Duration::from_secs(1))
    );
    // Fully clear after the window.
    assert_eq!(rl.check("alice", t0 + Duration::from_secs(1800)), Ok(()));
}

#[test]
fn rate_limiter_reset_clears_key() {
    let rl = RateLimiter::login_default();
    let t0 = Instant::now();
    for _ in 0..5 {
        rl.record_failure("alice", t0);
    }
    assert!(rl.check("alice", t0).is_err());
    rl.reset("alice");
    assert_eq!(rl.check("alice", t0), Ok(()));
}

#[test]
fn rate_limiter_memory_is_bounded() {
    let rl = RateLimiter::with_capacity_limit(3, Duration::from_secs(60), 100);
    let t0 = Instant::now();
    for i in 0..1000 {
        rl.record_failure(&format!("k{i}"), t0);
        assert!(rl.tracked_keys() <= 100);
    }
    assert_eq!(rl.tracked_keys(), 100);
    // Expired entries are swept: after the window only the new key remains.
    rl.record_failure("late", t0 + Duration::from_secs(61));
    assert_eq!(rl.tracked_keys(), 1);
    // Per-key history is capped too: many failures still block, and expire on time.
    for i in 0..1000 {
        rl.record_failure(
            "late",
            t0 + Duration::from_secs(61) + Duration::from_millis(i),
        );
    }
    assert!(rl.check("late", t0 + Duration::from_secs(62)).is_err());
    assert_eq!(rl.check("late", t0 + Duration::from_secs(123)), Ok(()));
}

#[test]
fn rate_limiter_is_thread_safe() {
    let rl = Arc::new(RateLimiter::new(1000, Duration::from_secs(60)));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let rl = Arc::clone(&rl);
            std::thread::spawn(move || {
                for _ in 0..250 {
                    rl.record_failure("shared", t0);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(rl.check("shared", t0).is_err());
}

// ---------------------------------------------------------------- audit chain

fn build_chain(genesis: &str, entries: &[&str]) -> Vec<(String, String)> {
    let mut prev = genesis.to_string();
    entries
        .iter()
        .map(|e| {
            let h = audit_chain_hash(&prev, e);
            prev = h.clone();
            (e.to_string(), h)
        })
        .collect()
}

#[test]
fn audit_chain_hash_definition() {
    // sha256("genesis\nentry")
    use sha2::Digest;
    let want = data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(b"genesis\nentry"));
    assert_eq!(audit_chain_hash("genesis", "entry"), want);
    assert_eq!(
        audit_chain_hash("", ""),
        "01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b"
    );
}

#[test]
fn verify_chain_detects_tampering() {
    let g = "0".repeat(64);
    let chain = build_chain(&g, &["a", "b", "c", "d"]);
    assert_eq!(verify_chain(&chain, &g), Ok(()));
    assert_eq!(verify_chain(&[], &g), Ok(()));
    assert_eq!(verify_chain(&chain, "other-genesis"), Err(0));

    let mut modified = chain.clone();
    modified[2].0 = "C".into();
    assert_eq!(verify_chain(&modified, &g), Err(2));

    let mut removed = chain.clone();
    removed.remove(1);
    assert_eq!(verify_chain(&removed, &g), Err(1));

    let mut swapped = chain.clone();
    swapped.swap(1, 2);
    assert_eq!(verify_chain(&swapped, &g), Err(1));

    let mut rehashed_last_only = chain.clone();
    rehashed_last_only[3].1 = audit_chain_hash("forged", "d");
    assert_eq!(verify_chain(&rehashed_last_only, &g), Err(3));
}
