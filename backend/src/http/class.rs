//! Follow-the-teacher classes: a teacher's page opens a class (`POST /api/classes`: a six-letter code and a secret),
//! students open `/c/{code}`, and every view the teacher's page publishes (trace on show, replay step, selected hop,
//! presenter mode) goes to every student page over `/api/classes/{code}/live`. Only the holder of the secret
//! drives; a class ends when the teacher ends it or has been gone for [`Limits::teacher_grace_ms`].
//!
//! [`Classes`] is the state machine, fed the time (`now_ms`) and tested without sockets; everything it holds is
//! bounded: classes, students per class, and the size of what a teacher may send.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use tokio::sync::broadcast;
use tracemap_shared::{ClassCommand, ClassCreated, ClassMessage, ClassView};

use super::client::Client;
use super::{AppError, AppState, tokens, unix_ms};

/// The letters of a code: no I, L, O, 0 or 1, which read alike on a projector.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Letters in a code: 31^6 ≈ 887 million codes.
pub const CODE_LEN: usize = 6;
/// The largest frame a page may send (a view is well under 200 bytes).
pub const MAX_FRAME_BYTES: usize = 1024;
/// Frames buffered per class for slow student pages; one that falls further behind skips to the newest view.
const CHANNEL: usize = 16;
/// How often a student's socket checks whether its class has run out of teacher.
const SWEEP_EVERY: Duration = Duration::from_secs(15);
/// A page that cannot take a frame in this long is gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The bounds of the class table.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Classes open at once, server-wide.
    pub max_classes: usize,
    /// Student pages per class.
    pub max_students: usize,
    /// How long a class outlives its teacher's last page (a reload, a lost Wi-Fi).
    pub teacher_grace_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_classes: 64, max_students: 500, teacher_grace_ms: 10 * 60 * 1000 }
    }
}

/// Why a class operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassError {
    /// No class has that code (or it has ended).
    NotFound,
    /// The secret is not the teacher's.
    Forbidden,
    /// The server holds its maximum of classes.
    TooManyClasses,
    /// The class holds its maximum of students.
    ClassFull,
    /// The view is not one a page could show (an id no trace has).
    BadView,
}

impl From<ClassError> for AppError {
    fn from(error: ClassError) -> AppError {
        match error {
            ClassError::NotFound => AppError::new(StatusCode::NOT_FOUND, "class_not_found", "no class has this code"),
            ClassError::Forbidden => {
                AppError::new(StatusCode::FORBIDDEN, "forbidden", "only the teacher's page may do that")
            }
            ClassError::TooManyClasses => AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_classes",
                "this server holds as many classes as it can; try again when one has ended",
            ),
            ClassError::ClassFull => AppError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "class_full",
                "this class has as many students as it can",
            ),
            ClassError::BadView => AppError::new(StatusCode::BAD_REQUEST, "bad_view", "not a view a page can show"),
        }
    }
}

/// One open class.
#[derive(Debug)]
struct Class {
    token_hash: Vec<u8>,
    view: ClassView,
    /// Teacher pages connected now.
    teachers: usize,
    /// When the last teacher page left (or the class opened, before the first connects).
    teacher_left_ms: Option<u64>,
    students: usize,
    frames: broadcast::Sender<Arc<str>>,
}

impl Class {
    fn send(&self, message: &ClassMessage) {
        if let Ok(text) = serde_json::to_string(message) {
            // No receivers is fine: nobody follows yet.
            let _ = self.frames.send(Arc::from(text));
        }
    }
}

/// Every open class.
#[derive(Debug, Default)]
pub struct Classes {
    limits: Limits,
    classes: Mutex<HashMap<String, Class>>,
}

/// What a student page gets on joining: the view now and the frames to come.
#[derive(Debug)]
pub struct Joined {
    /// What the teacher shows now.
    pub view: ClassView,
    /// Every later frame of the class.
    pub frames: broadcast::Receiver<Arc<str>>,
    /// Whether the teacher's page is connected now.
    pub teacher_present: bool,
}

/// `code` as typed by a person: upper case, spaces and dashes dropped; `None` when it cannot be a code.
pub fn normalize_code(code: &str) -> Option<String> {
    let code: String = code.chars().filter(|c| !matches!(c, ' ' | '-')).map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

/// Whether `view` is one a page can show: a trace id made of id characters, of a sane length.
fn valid_view(view: &ClassView) -> bool {
    view.trace.as_deref().is_none_or(|id| {
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

impl Classes {
    /// An empty table with `limits`.
    pub fn new(limits: Limits) -> Classes {
        Classes { limits, classes: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Class>> {
        self.classes.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens a class: its code and the teacher's secret. Classes whose teacher is gone are swept first.
    pub fn open(&self, now_ms: u64) -> Result<ClassCreated, ClassError> {
        self.sweep(now_ms);
        let mut classes = self.lock();
        if classes.len() >= self.limits.max_classes {
            return Err(ClassError::TooManyClasses);
        }
        let mut rng = rand::rng();
        let code = loop {
            let code: String =
                (0..CODE_LEN).map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())])).collect();
            if !classes.contains_key(&code) {
                break code;
            }
        };
        let token = tokens::new_token();
        let (frames, _) = broadcast::channel(CHANNEL);
        let class = Class {
            token_hash: tokens::hash(&token),
            view: ClassView::default(),
            teachers: 0,
            teacher_left_ms: Some(now_ms),
            students: 0,
            frames,
        };
        classes.insert(code.clone(), class);
        Ok(ClassCreated { code, token })
    }

    /// A page of class `code` (joined as a student, see [`Classes::join`]) proved with `token` that it is the
    /// teacher's: it no longer counts as a student.
    pub fn teacher_arrived(&self, code: &str, token: &str) -> Result<(), ClassError> {
        let mut classes = self.lock();
        let class = classes.get_mut(code).ok_or(ClassError::NotFound)?;
        if !tokens::matches_hash(token, &class.token_hash) {
            return Err(ClassError::Forbidden);
        }
        class.teachers += 1;
        class.teacher_left_ms = None;
        if class.teachers == 1 {
            class.send(&ClassMessage::Teacher { present: true });
        }
        // Every socket joins as a student; the teacher's is not one.
        class.students = class.students.saturating_sub(1);
        class.send(&ClassMessage::Students { count: class.students as u32 });
        Ok(())
    }

    /// A teacher page of class `code` left; the class waits [`Limits::teacher_grace_ms`] for one to come back.
    pub fn teacher_left(&self, code: &str, now_ms: u64) {
        if let Some(class) = self.lock().get_mut(code) {
            class.teachers = class.teachers.saturating_sub(1);
            if class.teachers == 0 {
                class.teacher_left_ms = Some(now_ms);
                class.send(&ClassMessage::Teacher { present: false });
            }
        }
    }

    /// The teacher shows `view`: every student page gets it. Only for a page that proved itself
    /// ([`Classes::teacher_arrived`]), which holds the secret it is checked against again here.
    pub fn show(&self, code: &str, token: &str, view: ClassView) -> Result<(), ClassError> {
        if !valid_view(&view) {
            return Err(ClassError::BadView);
        }
        let mut classes = self.lock();
        let class = classes.get_mut(code).ok_or(ClassError::NotFound)?;
        if !tokens::matches_hash(token, &class.token_hash) {
            return Err(ClassError::Forbidden);
        }
        if class.view != view {
            class.view = view.clone();
            class.send(&ClassMessage::View { view });
        }
        Ok(())
    }

    /// A student page joins class `code`.
    pub fn join(&self, code: &str, now_ms: u64) -> Result<Joined, ClassError> {
        self.sweep(now_ms);
        let mut classes = self.lock();
        let class = classes.get_mut(code).ok_or(ClassError::NotFound)?;
        if class.students >= self.limits.max_students {
            return Err(ClassError::ClassFull);
        }
        class.students += 1;
        let joined =
            Joined { view: class.view.clone(), frames: class.frames.subscribe(), teacher_present: class.teachers > 0 };
        class.send(&ClassMessage::Students { count: class.students as u32 });
        Ok(joined)
    }

    /// A student page of class `code` left.
    pub fn leave(&self, code: &str) {
        if let Some(class) = self.lock().get_mut(code) {
            class.students = class.students.saturating_sub(1);
            class.send(&ClassMessage::Students { count: class.students as u32 });
        }
    }

    /// The teacher ends class `code`: every page is told, and the code is free again.
    pub fn end(&self, code: &str, token: &str) -> Result<(), ClassError> {
        let mut classes = self.lock();
        let class = classes.get(code).ok_or(ClassError::NotFound)?;
        if !tokens::matches_hash(token, &class.token_hash) {
            return Err(ClassError::Forbidden);
        }
        if let Some(class) = classes.remove(code) {
            class.send(&ClassMessage::Ended { reason: "The teacher ended the class.".to_owned() });
        }
        Ok(())
    }

    /// Ends every class whose teacher has been gone for [`Limits::teacher_grace_ms`]; how many ended.
    pub fn sweep(&self, now_ms: u64) -> usize {
        let grace = self.limits.teacher_grace_ms;
        let mut classes = self.lock();
        let gone: Vec<String> = classes
            .iter()
            .filter(|(_, c)| c.teacher_left_ms.is_some_and(|left| now_ms.saturating_sub(left) >= grace))
            .map(|(code, _)| code.clone())
            .collect();
        for code in &gone {
            if let Some(class) = classes.remove(code) {
                let minutes = grace / 60_000;
                class.send(&ClassMessage::Ended {
                    reason: format!("The class ended: the teacher's page has been gone for {minutes} minutes."),
                });
            }
        }
        gone.len()
    }

    /// What class `code` shows now and how many students follow it.
    pub fn status(&self, code: &str) -> Option<(ClassView, usize)> {
        self.lock().get(code).map(|c| (c.view.clone(), c.students))
    }

    /// Open classes.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no class is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `POST /api/classes`: opens a class. It counts against the client's rate limit like a trace start, so one
/// client cannot fill the table of classes.
pub(super) async fn open(
    State(state): State<AppState>,
    Extension(client): Extension<Client>,
) -> Result<Response, AppError> {
    if let Err(wait) = state.limiter.check(super::limits::ClientKey::of(client.ip), std::time::Instant::now()) {
        return Err(AppError::rate_limited(wait));
    }
    let created = state.classes.open(unix_ms())?;
    tracing::info!(code = %created.code, "class opened");
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

/// `GET /api/classes/{code}`: what the class shows and how many follow it.
pub(super) async fn status(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, AppError> {
    state.classes.sweep(unix_ms());
    let code = normalize_code(&code).ok_or(ClassError::NotFound)?;
    let (view, students) = state.classes.status(&code).ok_or(ClassError::NotFound)?;
    Ok(axum::Json(serde_json::json!({"code": code, "view": view, "students": students})).into_response())
}

/// `DELETE /api/classes/{code}` with `Authorization: Bearer SECRET`: the teacher ends the class.
pub(super) async fn end(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, AppError> {
    let code = normalize_code(&code).ok_or(ClassError::NotFound)?;
    let token = tokens::bearer(&headers).ok_or(ClassError::Forbidden)?;
    state.classes.end(&code, token)?;
    tracing::info!(%code, "class ended by its teacher");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/classes/{code}/qr.svg`: a QR code of the class's join link `{origin}/c/{code}`, to show on a projector.
pub(super) async fn qr(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let code = normalize_code(&code).ok_or(ClassError::NotFound)?;
    state.classes.status(&code).ok_or(ClassError::NotFound)?;
    let link = format!("{}/c/{code}", super::preview::origin(&headers, &client));
    let svg = qr_svg(&link).ok_or_else(|| {
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the QR code could not be drawn")
    })?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-cache")], svg).into_response())
}

/// `text` as a QR code in SVG, black on white with the standard quiet zone.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .build(),
    )
}

/// `GET /api/classes/{code}/live`: the class's WebSocket. Every page gets the view now, then each change and the
/// student count; a page whose first frame is the teacher's secret drives the class.
pub(super) async fn live(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Extension(client): Extension<Client>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    super::ws::check_origin(&state, &client, &headers)?;
    let code = normalize_code(&code).ok_or(ClassError::NotFound)?;
    let joined = state.classes.join(&code, unix_ms())?;
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            state.classes.leave(&code);
            return Err(AppError::new(
                rejection.status(),
                "websocket_required",
                format!("open this URL as a WebSocket: {}", rejection.body_text()),
            ));
        }
    };
    Ok(upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| serve(socket, state, code, joined)))
}

async fn serve(socket: WebSocket, state: AppState, code: String, joined: Joined) {
    let (mut sink, mut incoming) = socket.split();
    let Joined { view, mut frames, teacher_present } = joined;
    let mut teacher: Option<String> = None;
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    let first = serde_json::to_string(&ClassMessage::View { view }).unwrap_or_default();
    let present = serde_json::to_string(&ClassMessage::Teacher { present: teacher_present }).unwrap_or_default();
    let mut alive = send(&mut sink, first).await && send(&mut sink, present).await;
    while alive {
        tokio::select! {
            frame = frames.recv() => match frame {
                Ok(text) => {
                    let ended = text.contains(r#""type":"ended""#);
                    alive = send(&mut sink, text.to_string()).await && !ended;
                }
                // Fell behind: the next frame carries the newest state anyway.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    if let Some((view, _)) = state.classes.status(&code) {
                        let text = serde_json::to_string(&ClassMessage::View { view }).unwrap_or_default();
                        alive = send(&mut sink, text).await;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => alive = false,
            },
            message = incoming.next() => match message {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ClassCommand>(&text) {
                    Ok(ClassCommand::Teach { token }) if teacher.is_none() => {
                        match state.classes.teacher_arrived(&code, &token) {
                            Ok(()) => teacher = Some(token),
                            Err(_) => alive = false,
                        }
                    }
                    // A student page cannot drive: its views are dropped.
                    Ok(ClassCommand::View { view }) if teacher.is_some() => {
                        let token = teacher.as_deref().unwrap_or_default();
                        if state.classes.show(&code, token, view) == Err(ClassError::NotFound) {
                            alive = false;
                        }
                    }
                    _ => {}
                },
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => alive = false,
                Some(Ok(_)) => {}
            },
            _ = sweep.tick() => {
                state.classes.sweep(unix_ms());
            }
        }
    }
    if teacher.is_some() {
        state.classes.teacher_left(&code, unix_ms());
    } else {
        state.classes.leave(&code);
    }
    let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Close(None))).await;
}

/// Sends one text frame; false when the page is gone or too slow.
async fn send<S>(sink: &mut S, text: String) -> bool
where
    S: futures_util::Sink<Message> + Unpin,
{
    matches!(tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Text(text.into()))).await, Ok(Ok(())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits { max_classes: 2, max_students: 2, teacher_grace_ms: 600_000 }
    }

    fn view(trace: &str, step: u32) -> ClassView {
        ClassView { trace: Some(trace.into()), step: Some(step), selected: Some(2), presenter: true }
    }

    fn next(frames: &mut broadcast::Receiver<Arc<str>>) -> ClassMessage {
        let text = frames.try_recv().expect("a frame");
        serde_json::from_str(&text).expect("a class message")
    }

    #[test]
    fn codes_are_six_unambiguous_letters_typed_any_way() {
        let classes = Classes::new(Limits::default());
        let created = classes.open(0).expect("open");
        assert_eq!(normalize_code(&created.code), Some(created.code.clone()));
        assert!(created.code.bytes().all(|b| !b"ILO01".contains(&b)), "{}", created.code);
        assert_eq!(normalize_code("abc-def"), Some("ABCDEF".into()));
        assert_eq!(normalize_code("ab cd 23"), Some("ABCD23".into()));
        for bad in ["", "ABCDE", "ABCDEFG", "ABCDE1", "ABCDEO", "ABCDÉF", "../../"] {
            assert_eq!(normalize_code(bad), None, "{bad}");
        }
        assert!(created.token.len() >= 32, "the secret is long");
    }

    #[test]
    fn only_the_teachers_secret_drives_and_students_get_every_change() {
        let classes = Classes::new(limits());
        let ClassCreated { code, token } = classes.open(0).expect("open");
        let mut student = classes.join(&code, 1).expect("join");
        assert_eq!(student.view, ClassView::default());
        assert!(!student.teacher_present, "no teacher page yet");
        assert_eq!(next(&mut student.frames), ClassMessage::Students { count: 1 });
        assert_eq!(classes.teacher_arrived(&code, "guess"), Err(ClassError::Forbidden));
        assert_eq!(classes.show(&code, "guess", view("abc", 1)), Err(ClassError::Forbidden));
        assert!(student.frames.try_recv().is_err(), "a wrong secret changes nothing");
        let _teachers_socket = classes.join(&code, 1).expect("the teacher's page joins like any page");
        assert_eq!(next(&mut student.frames), ClassMessage::Students { count: 2 });
        classes.teacher_arrived(&code, &token).expect("teacher");
        assert_eq!(next(&mut student.frames), ClassMessage::Teacher { present: true });
        assert_eq!(next(&mut student.frames), ClassMessage::Students { count: 1 }, "the teacher is no student");
        classes.show(&code, &token, view("abc", 1)).expect("show");
        assert_eq!(next(&mut student.frames), ClassMessage::View { view: view("abc", 1) });
        classes.show(&code, &token, view("abc", 1)).expect("same again");
        assert!(student.frames.try_recv().is_err(), "an unchanged view is not sent again");
        classes.show(&code, &token, view("new-trace_2", 0)).expect("a new trace");
        assert_eq!(next(&mut student.frames), ClassMessage::View { view: view("new-trace_2", 0) });
        let late = classes.join(&code, 2).expect("a late student");
        assert_eq!(late.view, view("new-trace_2", 0), "a late student starts where the class is");
        assert!(late.teacher_present, "and knows the teacher is there");
        assert_eq!(classes.show(&code, &token, view("../etc", 0)), Err(ClassError::BadView));
    }

    #[test]
    fn classes_and_students_are_bounded() {
        let classes = Classes::new(limits());
        let code = classes.open(0).expect("one").code;
        classes.open(0).expect("two");
        assert_eq!(classes.open(0).map(|_| ()), Err(ClassError::TooManyClasses));
        let _a = classes.join(&code, 0).expect("a");
        let _b = classes.join(&code, 0).expect("b");
        assert_eq!(classes.join(&code, 0).map(|_| ()), Err(ClassError::ClassFull));
        classes.leave(&code);
        classes.join(&code, 0).expect("a seat came free");
        assert_eq!(classes.join("ZZZZZZ", 0).map(|_| ()), Err(ClassError::NotFound));
    }

    #[test]
    fn the_teacher_ends_the_class_and_everyone_is_told() {
        let classes = Classes::new(limits());
        let ClassCreated { code, token } = classes.open(0).expect("open");
        let mut student = classes.join(&code, 0).expect("join");
        let _ = next(&mut student.frames);
        assert_eq!(classes.end(&code, "guess"), Err(ClassError::Forbidden));
        classes.end(&code, &token).expect("end");
        assert!(matches!(next(&mut student.frames), ClassMessage::Ended { .. }));
        assert_eq!(classes.status(&code), None);
        assert_eq!(classes.end(&code, &token), Err(ClassError::NotFound));
    }

    #[test]
    fn a_class_outlives_its_teacher_by_the_grace_period_only() {
        let classes = Classes::new(limits());
        let ClassCreated { code, token } = classes.open(0).expect("open");
        // Never connected: the grace runs from the opening.
        assert_eq!(classes.sweep(599_999), 0);
        classes.teacher_arrived(&code, &token).expect("teacher");
        assert_eq!(classes.sweep(10_000_000), 0, "a connected teacher keeps the class however long it runs");
        classes.teacher_left(&code, 10_000_000);
        let mut student = classes.join(&code, 10_000_001).expect("join");
        assert!(!student.teacher_present, "the teacher's page is away");
        let _ = next(&mut student.frames);
        // A reload comes back within the grace: the class goes on.
        let _reloaded = classes.join(&code, 10_050_000).expect("the reloaded page joins");
        classes.teacher_arrived(&code, &token).expect("back");
        assert_eq!(classes.status(&code).map(|(_, students)| students), Some(1));
        let mut told = Vec::new();
        while let Ok(text) = student.frames.try_recv() {
            told.push(serde_json::from_str::<ClassMessage>(&text).expect("a class message"));
        }
        assert!(told.contains(&ClassMessage::Teacher { present: true }), "students hear it is back: {told:?}");
        classes.teacher_left(&code, 10_100_000);
        assert_eq!(next(&mut student.frames), ClassMessage::Teacher { present: false }, "and that it left");
        assert_eq!(classes.sweep(10_100_000 + 599_999), 0);
        assert_eq!(classes.sweep(10_100_000 + 600_000), 1);
        match next(&mut student.frames) {
            ClassMessage::Ended { reason } => assert!(reason.contains("10 minutes"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(classes.is_empty());
    }

    #[test]
    fn the_qr_code_is_an_svg() {
        let svg = qr_svg("http://127.0.0.1:8080/c/ABCDEF").expect("svg");
        assert!(svg.contains("<svg") && svg.contains("#000000"), "{}", &svg[..svg.len().min(200)]);
    }
}
