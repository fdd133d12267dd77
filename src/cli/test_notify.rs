//! `yupiao test-notify NAME`: one test push through one `[[channel]]`, the service's answer as
//! it came (keys scrubbed), what it means, and what to do about a refusal.

use std::process::ExitCode;

use crate::config::Settings;
use crate::push::{self, Outcome, message::test_message};

/// Sends the test push; exit 0 when the service took it, 1 when it refused or did not answer,
/// 2 when there is no such channel.
pub(super) async fn test_notify(settings: &Settings, name: &str) -> ExitCode {
    let Some(spec) = settings.channel(name) else {
        let known = settings.channel_names();
        if known.is_empty() {
            eprintln!(
                "no channel named \"{name}\": the settings declare no [[channel]] (see the README's push channels)"
            );
        } else {
            eprintln!(
                "no channel named \"{name}\" (the settings declare: {})",
                known.join(", ")
            );
        }
        return ExitCode::from(2);
    };
    let now = crate::clock::now();
    let msg = test_message(&spec.name, now);
    let req = match push::prepare(spec, &msg, now) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "sending a test push through \"{}\" ({}, {})",
        spec.name,
        spec.kind,
        req.redacted_url()
    );
    let http = match push::client() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot build the HTTP client: {e}");
            return ExitCode::from(1);
        }
    };
    let credentials = spec.credentials();
    let outcome = match push::send(&http, &req, push::send::DEFAULT_TIMEOUT).await {
        Ok(answer) => {
            println!(
                "answer: HTTP {} {}",
                answer.status,
                scrub(&answer.body, &credentials).trim()
            );
            answer.outcome(spec.kind).scrubbed(&credentials)
        }
        Err(e) => {
            println!("no answer: {e}");
            e.outcome()
        }
    };
    match outcome {
        Outcome::Accepted { detail } => {
            println!("accepted: {detail}");
            ExitCode::SUCCESS
        }
        Outcome::Refused(r) => {
            let class = match r.class {
                push::FailureClass::Permanent => "refused (permanent: yupiao would not retry)",
                push::FailureClass::Transient => "not delivered (transient: yupiao would retry)",
            };
            eprintln!("{class}: {}", r.reason);
            eprintln!("hint: {}", r.hint.advice());
            ExitCode::from(1)
        }
    }
}

/// `text` with every credential replaced by `***` (services echo keys back).
fn scrub(text: &str, credentials: &[String]) -> String {
    let mut out = text.to_string();
    for c in credentials.iter().filter(|c| !c.is_empty()) {
        out = out.replace(c.as_str(), "***");
    }
    out
}
