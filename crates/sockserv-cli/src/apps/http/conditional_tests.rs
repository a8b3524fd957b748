use super::*;

fn validators() -> Validators {
    Validators {
        etag: "\"abc\"".into(),
        modified: UNIX_EPOCH + Duration::from_secs(784_111_777), // Sun, 06 Nov 1994 08:49:37 GMT
    }
}

const MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const EARLIER: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
const LATER: &str = "Mon, 07 Nov 1994 08:49:37 GMT";

#[test]
fn the_etag_changes_with_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    std::fs::write(&path, b"one").unwrap();
    let first = Validators::of(&std::fs::metadata(&path).unwrap());
    std::fs::write(&path, b"three").unwrap();
    let second = Validators::of(&std::fs::metadata(&path).unwrap());
    assert_ne!(first.etag, second.etag);
    assert!(first.etag.starts_with('"') && first.etag.ends_with('"'));
    let gz = first.variant("gz");
    assert!(
        gz.etag.ends_with("-gz\"") && gz.etag.starts_with('"'),
        "{}",
        gz.etag
    );
}

#[test]
fn if_none_match_gives_304_on_a_match() {
    let v = validators();
    let f = |inm| Fields {
        if_none_match: Some(inm),
        ..Fields::default()
    };
    assert_eq!(evaluate(&f("\"abc\""), &v), Outcome::NotModified);
    assert_eq!(evaluate(&f("W/\"abc\""), &v), Outcome::NotModified);
    assert_eq!(evaluate(&f("\"x\", \"abc\""), &v), Outcome::NotModified);
    assert_eq!(evaluate(&f("*"), &v), Outcome::NotModified);
    assert_eq!(evaluate(&f("\"abcd\""), &v), Outcome::Proceed);
    assert_eq!(evaluate(&f("abc"), &v), Outcome::Proceed);
}

#[test]
fn if_modified_since_compares_whole_seconds() {
    let v = validators();
    let f = |ims| Fields {
        if_modified_since: Some(ims),
        ..Fields::default()
    };
    assert_eq!(evaluate(&f(MODIFIED), &v), Outcome::NotModified);
    assert_eq!(evaluate(&f(LATER), &v), Outcome::NotModified);
    assert_eq!(evaluate(&f(EARLIER), &v), Outcome::Proceed);
    assert_eq!(evaluate(&f("yesterday"), &v), Outcome::Proceed);
}

#[test]
fn if_none_match_overrides_if_modified_since() {
    let v = validators();
    let f = Fields {
        if_none_match: Some("\"other\""),
        if_modified_since: Some(LATER),
        ..Fields::default()
    };
    assert_eq!(evaluate(&f, &v), Outcome::Proceed);
}

#[test]
fn if_match_and_if_unmodified_since_give_412() {
    let v = validators();
    let m = |im| Fields {
        if_match: Some(im),
        ..Fields::default()
    };
    assert_eq!(evaluate(&m("\"abc\""), &v), Outcome::Proceed);
    assert_eq!(evaluate(&m("*"), &v), Outcome::Proceed);
    assert_eq!(evaluate(&m("W/\"abc\""), &v), Outcome::Failed);
    assert_eq!(evaluate(&m("\"zzz\""), &v), Outcome::Failed);
    let u = |ius| Fields {
        if_unmodified_since: Some(ius),
        ..Fields::default()
    };
    assert_eq!(evaluate(&u(MODIFIED), &v), Outcome::Proceed);
    assert_eq!(evaluate(&u(EARLIER), &v), Outcome::Failed);
    assert_eq!(evaluate(&u("garbage"), &v), Outcome::Proceed);
}

#[test]
fn if_range_needs_a_strong_match_or_the_exact_date() {
    let v = validators();
    let r = |ir| Fields {
        if_range: Some(ir),
        ..Fields::default()
    };
    assert!(if_range_holds(&Fields::default(), &v));
    assert!(if_range_holds(&r("\"abc\""), &v));
    assert!(!if_range_holds(&r("W/\"abc\""), &v));
    assert!(!if_range_holds(&r("\"old\""), &v));
    assert!(if_range_holds(&r(MODIFIED), &v));
    assert!(!if_range_holds(&r(LATER), &v));
    assert!(!if_range_holds(&r("nonsense"), &v));
}

#[test]
fn tag_lists_with_commas_inside_tags_parse() {
    assert!(matches("\"a,b\", \"abc\"", "\"abc\"", true));
    assert!(!matches("\"a,\"abc\"", "\"abc\"", false));
    assert!(!matches("", "\"abc\"", false));
    assert!(!matches("\"unterminated", "\"abc\"", false));
}
