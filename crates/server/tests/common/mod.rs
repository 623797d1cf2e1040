//! Test harness: a real Warden server on an ephemeral port, backed by a fresh
//! SQLite file (or a fresh PostgreSQL schema), with a few countries' real
//! geography and one user per role.

#![allow(dead_code)]

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use uuid::Uuid;
use warden_auth::TotpAlgorithm;
use warden_domain::{AreaCode, CountryCode, Role, RoleGrant, Scope};
use warden_server::config::Config;
use warden_server::state::AppState;
use warden_store::{AreaKind, AuditContext, Country, NewAgency, NewArea, NewUser, Store};

/// Countries whose real admin-1 areas are loaded (few, so start-up is fast).
pub const COUNTRIES: [&str; 3] = ["AF", "ML", "CH"];
pub const PASSWORD: &str = "correct horse battery staple";
/// Request bodies over this are refused (small, so the test can exceed it).
pub const MAX_BODY: usize = 64 * 1024;

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn pg_url() -> String {
    std::env::var("WARDEN_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

/// The shipped geography of `COUNTRIES`, decoded once per test binary.
fn geography() -> &'static (Vec<Country>, Vec<NewArea>) {
    static GEO: OnceLock<(Vec<Country>, Vec<NewArea>)> = OnceLock::new();
    GEO.get_or_init(|| {
        let countries: Vec<Country> = warden_geo::builtin_countries()
            .into_iter()
            .filter(|c| COUNTRIES.contains(&c.alpha2.as_str()))
            .map(|c| Country {
                alpha2: CountryCode::parse(&c.alpha2).unwrap(),
                alpha3: c.alpha3,
                name: c.name,
                names: c.names,
                region: c.region,
            })
            .collect();
        assert_eq!(countries.len(), COUNTRIES.len(), "test countries missing");
        let areas: Vec<NewArea> = warden_geo::builtin_areas()
            .into_iter()
            .filter(|a| COUNTRIES.contains(&a.country.as_str()))
            .map(|a| NewArea {
                code: AreaCode::parse(&a.code).unwrap(),
                iso_3166_2: a.iso_3166_2,
                country: CountryCode::parse(&a.country).unwrap(),
                name: a.name,
                names: a.names,
                kind: AreaKind::Admin1,
                subtype: a.kind,
                label_lon: a.label.0,
                label_lat: a.label.1,
                geometry: warden_geo::to_geojson_geometry(&a.geometry).to_string(),
                members: vec![],
            })
            .collect();
        (countries, areas)
    })
}

/// One Argon2id hash of `PASSWORD`, shared by every test user (hashing is slow).
fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| warden_auth::hash_password(PASSWORD).unwrap())
}

#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: Uuid,
    pub username: String,
    /// Raw TOTP secret bytes, when enrolled.
    pub totp: Option<Vec<u8>>,
}

impl TestUser {
    /// The TOTP code of this user at `unix_time`.
    pub fn code_at(&self, unix_time: i64) -> String {
        let secret = self.totp.as_ref().expect("user has TOTP");
        warden_auth::totp_code(secret, TotpAlgorithm::Sha1, unix_time, 30, 6)
    }
    pub fn code_now(&self) -> String {
        self.code_at(chrono::Utc::now().timestamp())
    }
}

/// The users every test app has.
#[derive(Clone, Debug)]
pub struct Users {
    pub admin: TestUser,
    pub traveller: TestUser,
    pub sa_af: TestUser,
    pub desk_af: TestUser,
    pub do_af: TestUser,
    pub smt_af: TestUser,
    pub do_ml: TestUser,
    pub smt_ml: TestUser,
    /// A security adviser who has not set up TOTP yet.
    pub sa_unenrolled: TestUser,
    /// Used only by the rate-limit test.
    pub sa_lockout: TestUser,
}

pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    /// A client that does not follow redirects (for the web pages).
    pub raw_client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub users: Users,
    tokens: Mutex<HashMap<Uuid, String>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteDir(std::path::PathBuf),
    PgSchema(String),
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match &self.cleanup {
            Cleanup::SqliteDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PgSchema(schema) => {
                // `finish()` normally drops the schema; if the test panicked
                // first, do it here from a thread with its own runtime.
                if !schema.is_empty() {
                    let schema = schema.clone();
                    let _ = std::thread::spawn(move || {
                        tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                            .unwrap()
                            .block_on(drop_schema(&schema))
                    })
                    .join();
                }
            }
        }
    }
}

async fn drop_schema(schema: &str) {
    use sqlx::Connection;
    let Ok(mut conn) = sqlx::PgConnection::connect(&pg_url()).await else {
        return;
    };
    let _ = sqlx::query("SET lock_timeout = '2s'")
        .execute(&mut conn)
        .await;
    for attempt in 1..=5 {
        match sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(&mut conn)
            .await
        {
            Ok(_) => break,
            Err(e) if attempt == 5 => eprintln!("could not drop test schema {schema}: {e}"),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
    let _ = conn.close().await;
}

pub async fn spawn_app() -> TestApp {
    spawn_app_on(Backend::Sqlite).await
}

pub async fn spawn_app_on(backend: Backend) -> TestApp {
    let (store, cleanup): (Arc<dyn Store>, Cleanup) = match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("warden-it-{}", Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("warden.db");
            let s = warden_store_sqlite::SqliteStore::open(path.to_str().unwrap())
                .await
                .expect("open sqlite");
            (Arc::new(s), Cleanup::SqliteDir(dir))
        }
        Backend::Postgres => {
            let url = pg_url();
            let schema = format!("it_{}", Uuid::new_v4().simple());
            let s = match warden_store_postgres::PgStore::connect_with_schema(&url, &schema).await {
                Ok(s) => s,
                Err(e) => panic!(
                    "cannot reach the test PostgreSQL at {url}: {e}\n\
                     Start PostgreSQL there (database `test`), or point the tests at another server \
                     with WARDEN_TEST_POSTGRES_URL=postgres://user:password@host:port/database"
                ),
            };
            (Arc::new(s), Cleanup::PgSchema(schema))
        }
    };
    store.migrate().await.expect("migrate");

    let (countries, areas) = geography();
    store.upsert_countries(countries).await.unwrap();
    let ctx = AuditContext::system("test setup");
    store.upsert_areas(areas, &ctx).await.unwrap();

    let agency = store
        .create_agency(
            &NewAgency {
                code: "UNDP".into(),
                name: "United Nations Development Programme".into(),
            },
            &ctx,
        )
        .await
        .unwrap();

    let mk = |name: &'static str, role: Role, scope: &'static str, totp: bool| {
        let store = store.clone();
        let ctx = ctx.clone();
        async move {
            let u = store
                .create_user(
                    &NewUser {
                        username: name.into(),
                        display_name: format!("Test {name}"),
                        email: format!("{name}@example.org"),
                        agency: Some(agency.id),
                        password_hash: password_hash().to_string(),
                        grants: vec![RoleGrant {
                            role,
                            scope: Scope::parse(scope).unwrap(),
                            agency: None,
                        }],
                        locale: "en".into(),
                    },
                    &ctx,
                )
                .await
                .unwrap();
            let secret = if totp {
                let s = warden_auth::TotpSecret::generate();
                store
                    .set_totp(u.id, Some(&s.to_base32()), true, &ctx)
                    .await
                    .unwrap();
                Some(s.as_bytes().to_vec())
            } else {
                None
            };
            TestUser {
                id: u.id,
                username: name.into(),
                totp: secret,
            }
        }
    };
    let users = Users {
        admin: mk("admin", Role::Administrator, "global", true).await,
        traveller: mk("traveller", Role::Traveller, "global", false).await,
        sa_af: mk("sa-af", Role::SecurityAdviser, "AF", true).await,
        desk_af: mk("desk-af", Role::RegionalDesk, "AF", true).await,
        do_af: mk("do-af", Role::DesignatedOfficial, "AF", true).await,
        smt_af: mk("smt-af", Role::SmtMember, "AF", true).await,
        do_ml: mk("do-ml", Role::DesignatedOfficial, "ML", true).await,
        smt_ml: mk("smt-ml", Role::SmtMember, "ML", true).await,
        sa_unenrolled: mk("sa-new", Role::SecurityAdviser, "AF", false).await,
        sa_lockout: mk("sa-lockout", Role::SecurityAdviser, "AF", true).await,
    };

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let config = Config {
        listen: addr,
        database_url: "sqlite://unused.db".into(),
        base_url: base.clone(),
        public_advisories: true,
        max_body_bytes: MAX_BODY,
        ..Config::default()
    };
    let state = AppState::new(store.clone(), config)
        .await
        .expect("app state");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(warden_server::serve(state, listener, async move {
        let _ = rx.await;
    }));

    TestApp {
        base,
        client: reqwest::Client::new(),
        raw_client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        store,
        users,
        tokens: Mutex::new(HashMap::new()),
        shutdown: Some(tx),
        server: Some(server),
        cleanup,
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// Asserts an RFC 9457 problem with this status (and field, if given);
    /// returns the problem document.
    #[track_caller]
    pub fn problem(&self, status: u16, field: Option<&str>) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status}, got {}: {}",
            self.status,
            self.text
        );
        assert!(
            self.content_type().starts_with("application/problem+json"),
            "expected problem+json, got {:?}: {}",
            self.content_type(),
            self.text
        );
        let p = self.json();
        assert_eq!(p["status"], json!(status), "{p}");
        assert!(
            p["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("/problems/")),
            "{p}"
        );
        assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()), "{p}");
        assert!(p["detail"].as_str().is_some_and(|t| !t.is_empty()), "{p}");
        if let Some(f) = field {
            assert_eq!(p["field"], json!(f), "wrong field in {p}");
            assert_eq!(
                p["errors"][0]["field"],
                json!(f),
                "wrong errors[0].field in {p}"
            );
        }
        p
    }
    #[track_caller]
    pub fn ok(&self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status}, got {}: {}",
            self.status,
            self.text
        );
        if self.text.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let r = req.send().await.expect("request");
        Resp {
            status: r.status(),
            headers: r.headers().clone(),
            text: r.text().await.expect("body"),
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.client.get(self.url(path))).await
    }

    /// A request with an optional bearer token and an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut rb = self.client.request(method, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(b);
        }
        self.send(rb).await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post_as(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// POSTs /api/v1/auth/token with the given fields.
    pub async fn request_token(&self, username: &str, password: &str, totp: Option<&str>) -> Resp {
        let mut body = json!({"username": username, "password": password});
        if let Some(c) = totp {
            body["totp"] = json!(c);
        }
        self.call(Method::POST, "/api/v1/auth/token", None, Some(&body))
            .await
    }

    /// A bearer token for `u`. Each user signs in at most once per app: a
    /// TOTP time step can only be used once, so the token is cached.
    pub async fn token(&self, u: &TestUser) -> String {
        if let Some(t) = self.tokens.lock().unwrap().get(&u.id) {
            return t.clone();
        }
        let code = u.totp.as_ref().map(|_| u.code_now());
        let r = self
            .request_token(&u.username, PASSWORD, code.as_deref())
            .await;
        let v = r.ok(200);
        let t = v["token"].as_str().expect("token").to_string();
        assert!(v["expires_at"].is_string(), "{v}");
        self.tokens.lock().unwrap().insert(u.id, t.clone());
        t
    }

    /// A web page as `u` sees it, signed in (the session of `token(u)` as
    /// the session cookie; the sign-in pages themselves are tested in
    /// api.rs). Redirects are not followed.
    pub async fn page_as(&self, path: &str, u: &TestUser) -> Resp {
        let t = self.token(u).await;
        self.send(
            self.raw_client
                .get(self.url(path))
                .header("cookie", format!("warden_session={t}")),
        )
        .await
    }

    /// A form posted from our own pages by `u` (repeated keys allowed).
    /// Redirects are not followed.
    pub async fn form_as(&self, path: &str, u: &TestUser, form: &[(&str, &str)]) -> Resp {
        let t = self.token(u).await;
        self.send(
            self.raw_client
                .post(self.url(path))
                .header("cookie", format!("warden_session={t}"))
                .header("origin", &self.base)
                .form(form),
        )
        .await
    }

    /// Number of audit entries, read as the administrator through the API.
    /// Accepts the current undertaking on the use of location data as the
    /// holder of `token`.
    pub async fn accept_undertaking(&self, token: &str) {
        let v = self.get_as("/api/v1/undertaking", token).await.ok(200);
        self.post_as(
            "/api/v1/undertaking",
            token,
            &serde_json::json!({"version": v["version"]}),
        )
        .await
        .ok(200);
    }

    pub async fn audit_count(&self) -> i64 {
        let t = self.token(&self.users.admin.clone()).await;
        let v = self.get_as("/api/v1/audit?limit=1", &t).await.ok(200);
        v["total"].as_i64().expect("total")
    }

    /// A user of `agency` with these grants (each optionally limited to an
    /// agency), with TOTP enrolled.
    pub async fn user_with(
        &self,
        name: &str,
        agency: Option<Uuid>,
        grants: &[(Role, &str, Option<Uuid>)],
    ) -> TestUser {
        let ctx = AuditContext::system("test setup");
        let u = self
            .store
            .create_user(
                &NewUser {
                    username: name.into(),
                    display_name: format!("Test {name}"),
                    email: format!("{name}@example.org"),
                    agency,
                    password_hash: password_hash().to_string(),
                    grants: grants
                        .iter()
                        .map(|(role, scope, ag)| RoleGrant {
                            role: *role,
                            scope: Scope::parse(scope).unwrap(),
                            agency: *ag,
                        })
                        .collect(),
                    locale: "en".into(),
                },
                &ctx,
            )
            .await
            .unwrap();
        let s = warden_auth::TotpSecret::generate();
        self.store
            .set_totp(u.id, Some(&s.to_base32()), true, &ctx)
            .await
            .unwrap();
        TestUser {
            id: u.id,
            username: name.into(),
            totp: Some(s.as_bytes().to_vec()),
        }
    }

    /// The id of the agency with this code, created when new.
    pub async fn agency(&self, code: &str) -> Uuid {
        if let Some(a) = self.store.get_agency_by_code(code).await.unwrap() {
            return a.id;
        }
        self.store
            .create_agency(
                &NewAgency {
                    code: code.into(),
                    name: format!("Agency {code}"),
                },
                &AuditContext::system("test setup"),
            )
            .await
            .unwrap()
            .id
    }

    /// Shuts the server down and, for PostgreSQL, drops the test schema.
    pub async fn finish(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            // Graceful shutdown closes idle keep-alive connections; do not
            // wait for ever all the same.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), h).await;
        }
        if let Cleanup::PgSchema(schema) = &mut self.cleanup {
            let s = std::mem::take(schema);
            drop_schema(&s).await;
        }
    }
}

/// A valid assessment proposal for `area`.
pub fn proposal(area: &str, level: i64) -> Value {
    json!({
        "area": area,
        "level": level,
        "ratings": {"armed_conflict": level, "terrorism": level, "crime": 3, "civil_unrest": 2, "hazards": 1},
        "narrative": format!("Threat assessment for {area}: armed clashes on the main roads."),
        "advisory_text": format!("Avoid non-essential travel in {area}; convoys only."),
        "mitigation_text": "Armoured vehicles; check in every two hours."
    })
}

pub fn xmllint() -> std::path::PathBuf {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("xmllint"))
            .find(|f| f.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "xmllint is required to validate CAP output against the schema but was not found on PATH.\n\
             Install it: `apt-get install libxml2-utils` (Debian/Ubuntu), `dnf install libxml2` (Fedora), \
             `brew install libxml2` (macOS)"
        )
    })
}

/// Validates `xml` against the official CAP 1.2 schema with xmllint.
pub fn assert_valid_cap(xml: &str, label: &str) {
    let schema =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../publish/schema/CAP-v1.2.xsd");
    assert!(
        schema.is_file(),
        "CAP schema missing at {}",
        schema.display()
    );
    let file = std::env::temp_dir().join(format!("warden-it-cap-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&file, xml).unwrap();
    let out = std::process::Command::new(xmllint())
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
        .expect("run xmllint");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "{label}: CAP alert does not validate against CAP-v1.2.xsd:\n{}\n---\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Records a trip of `traveller` through the store (official, no TA
/// number): one leg per (area code, departure, arrival).
pub async fn record_trip(
    store: &dyn Store,
    traveller: Uuid,
    legs: &[(
        &str,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    )],
) {
    store
        .create_travel_request(
            &warden_store::NewTravelRequest {
                traveller,
                submitted_by: traveller,
                purpose: warden_domain::trip::TripPurpose::Official,
                ta_number: None,
                legs: legs
                    .iter()
                    .map(|(code, depart, arrive)| warden_store::NewLeg {
                        origin: "origin".into(),
                        destination: format!("{code} destination"),
                        area: AreaCode::parse(code).unwrap(),
                        depart: *depart,
                        arrive: *arrive,
                        depart_tz: None,
                        arrive_tz: None,
                        carrier: None,
                    })
                    .collect(),
            },
            &AuditContext::system("test setup"),
        )
        .await
        .unwrap();
}

/// Imports personnel (personnel id, agency, category, duty station) as
/// profiles named "Person {id}" and gives each one's user id by personnel id.
pub async fn station_people(
    store: &dyn Store,
    people: &[(&str, Uuid, warden_domain::people::PersonnelCategory, &str)],
) -> HashMap<String, Uuid> {
    let rows: Vec<warden_store::ProfileInput> = people
        .iter()
        .map(
            |(id, agency, category, station)| warden_store::ProfileInput {
                agency: *agency,
                personnel_id: id.to_string(),
                display_name: format!("Person {id}"),
                email: String::new(),
                category: *category,
                nationality: None,
                phone: String::new(),
                duty_station: Some(AreaCode::parse(station).unwrap()),
                emergency_contacts: vec![],
                certificates: vec![],
            },
        )
        .collect();
    let ctx = AuditContext::system("test setup");
    store.import_profiles(&rows, &ctx).await.unwrap();
    let mut ids = HashMap::new();
    let agencies: std::collections::BTreeSet<Uuid> = people.iter().map(|p| p.1).collect();
    for agency in agencies {
        let of: Vec<String> = people
            .iter()
            .filter(|p| p.1 == agency)
            .map(|p| p.0.to_string())
            .collect();
        ids.extend(store.profile_users(agency, &of).await.unwrap());
    }
    ids
}

/// Enrols a phone for `who` and has it report `code` (None: outside every
/// area) at each of these moments, in order.
pub async fn phone_reports(
    store: &dyn Store,
    who: Uuid,
    code: Option<&str>,
    at: &[chrono::DateTime<chrono::Utc>],
) {
    let ctx = AuditContext::system("test setup");
    let d = store
        .create_device(
            &warden_store::NewDevice {
                user: who,
                name: "phone".into(),
                platform: "owntracks".into(),
                token_digest: format!("digest-{who}"),
            },
            &ctx,
        )
        .await
        .unwrap();
    for t in at {
        store
            .ingest_locations(&warden_store::LocationBatch {
                device: d.id,
                user: who,
                reports: vec![warden_store::ResolvedReport {
                    report: warden_domain::eta::LocationReport {
                        lat: 34.5,
                        lon: 69.2,
                        accuracy_m: None,
                        recorded_at: *t,
                    },
                    area: code.map(|c| AreaCode::parse(c).unwrap()),
                }],
                received_at: *t,
            })
            .await
            .unwrap();
    }
}
