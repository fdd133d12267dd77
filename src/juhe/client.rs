//! The Juhe grabTicket HTTP client: one method per endpoint, typed parameters in, typed answers
//! or a [`JuheError`] out.
//!
//! It adds no policy. It does not retry (a retried `createOrder` must reuse its `outOrderNo`,
//! which only the order flow knows), does not pace (Juhe is called a handful of times per order)
//! and does not log secrets: the key and every parameter travel in a form `POST` body, and
//! transport errors are rebuilt from the endpoint URL alone.

use chrono::{NaiveDate, NaiveDateTime};
use reqwest::header;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::decode::{self, Created, OrderDetail, RefundAccepted, SearchResult};
use super::error::JuheError;
use crate::config;

/// A Juhe client. Cheap to share behind an `Arc`.
pub struct JuheClient {
    http: reqwest::Client,
    base: String,
    key: SecretString,
    paths: Paths,
}

#[derive(Debug, Clone)]
struct Paths {
    search: String,
    create: String,
    detail: String,
    cancel: String,
    refund: String,
    callback: String,
    dictionary: String,
}

impl std::fmt::Debug for JuheClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JuheClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Everything `createOrder.php` takes except the key (protocol doc §6.2). The order flow builds
/// it from the search that found the train, so that `query_key`, train, stations and date agree.
#[derive(Debug, Clone)]
pub struct CreateOrder {
    pub query_key: String,
    /// Our idempotency key: 6–32 letters/digits, stored before the call, reused on retries.
    pub out_order_no: String,
    /// 0 代购 (Juhe's accounts), 1 自购 (`account_no` / `account_pwd`).
    pub ticket_model: u8,
    pub account_no: Option<String>,
    pub account_pwd: Option<SecretString>,
    /// Train codes, main train first; sent joined by `|`.
    pub train_no: Vec<String>,
    /// `seatClassCode`s (`secondseat`…), main class first; sent joined by `|`.
    pub seat_class_code: Vec<String>,
    pub main_train_no: String,
    pub main_seat_class: String,
    /// Chinese names exactly as the search result gave them.
    pub from_station: String,
    pub to_station: String,
    /// As Juhe wants it: `2016-12-01`, or `2016-12-01 12:00` (main train's departure) with
    /// alternatives.
    pub depart_date: String,
    /// Grab deadline, Beijing time.
    pub close_time: NaiveDateTime,
    pub accept_no_seat: bool,
    pub person: String,
    pub cellphone: SecretString,
    pub email: Option<String>,
    /// At most five.
    pub passengers: Vec<JuhePassenger>,
}

/// One passenger of a create.
#[derive(Debug, Clone)]
pub struct JuhePassenger {
    pub name: String,
    /// 1 adult, 2 child (3 student and 4 disabled military are refused by Juhe).
    pub passenger_type: u8,
    /// Juhe's `idCardType`; for a 身份证 this is `[juhe] id_card_type_for_resident_id`, because
    /// the documents disagree (0 or 1).
    pub id_card_type: String,
    pub id_card_no: SecretString,
    /// `YYYY-MM-DD`; empty = not sent.
    pub birthday: String,
}

/// The exact form parameters of a `createOrder.php` call, in the documented order, without the
/// key. Holds secrets in clear (password, phone, ID numbers): never log the result.
pub fn create_params(o: &CreateOrder) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| p.push((k.to_string(), v));
    put("queryKey", o.query_key.clone());
    put("outOrderNo", o.out_order_no.clone());
    put("ticketModel", o.ticket_model.to_string());
    if let Some(acc) = &o.account_no {
        put("accountNo", acc.clone());
    }
    if let Some(pwd) = &o.account_pwd {
        put("accountPwd", pwd.expose_secret().to_string());
    }
    put("trainNo", o.train_no.join("|"));
    put("seatClassCode", o.seat_class_code.join("|"));
    put("mainTrainNo", o.main_train_no.clone());
    put("mainSeatClass", o.main_seat_class.clone());
    put("fromStation", o.from_station.clone());
    put("toStation", o.to_station.clone());
    put("departDate", o.depart_date.clone());
    put("closeTime", o.close_time.format("%Y-%m-%d %H:%M:%S").to_string());
    put(
        "acceptNoSeat",
        if o.accept_no_seat { "1" } else { "0" }.to_string(),
    );
    put("person", o.person.clone());
    put("cellphone", o.cellphone.expose_secret().to_string());
    if let Some(email) = o.email.as_ref().filter(|e| !e.trim().is_empty()) {
        put("email", email.clone());
    }
    put("passengers", passengers_json(&o.passengers));
    p
}

/// The `passengers` parameter: a JSON array of strings-only objects, like seed 001's example.
fn passengers_json(passengers: &[JuhePassenger]) -> String {
    let list: Vec<serde_json::Value> = passengers
        .iter()
        .map(|p| {
            let mut v = json!({
                "passengerName": p.name,
                "passengerType": p.passenger_type.to_string(),
                "idCardType": p.id_card_type,
                "idCardNo": p.id_card_no.expose_secret(),
            });
            if !p.birthday.trim().is_empty()
                && let Some(obj) = v.as_object_mut()
            {
                obj.insert("birthday".into(), json!(p.birthday));
            }
            v
        })
        .collect();
    serde_json::Value::Array(list).to_string()
}

fn join(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path.trim_start_matches('/'))
}

impl JuheClient {
    /// A client for `upstream.juhe_url` with the `[juhe]` paths; fails without a key.
    pub fn new(upstream: &config::Upstream, juhe: &config::Juhe) -> anyhow::Result<JuheClient> {
        let key = juhe
            .key
            .clone()
            .filter(|k| !k.expose_secret().trim().is_empty())
            .ok_or_else(|| anyhow::anyhow!("juhe.key is not set (YUPIAO__JUHE__KEY)"))?;
        let base = upstream.juhe_url.trim_end_matches('/').to_string();
        let mut headers = reqwest::header::HeaderMap::new();
        crate::body::accept_gzip(&mut headers);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Decompressed by crate::body under a cap, not by reqwest without one.
            .gzip(false)
            .default_headers(headers)
            .connect_timeout(upstream.connect_timeout)
            .timeout(upstream.timeout)
            .build()?;
        Ok(JuheClient {
            http,
            paths: Paths {
                search: join(&base, &juhe.search_path),
                create: join(&base, &juhe.create_path),
                detail: join(&base, &juhe.detail_path),
                cancel: join(&base, &juhe.cancel_path),
                refund: join(&base, &juhe.refund_path),
                callback: join(&base, &juhe.callback_path),
                dictionary: join(&base, &juhe.dictionary_path),
            },
            base,
            key,
        })
    }

    /// Base URL, for messages.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `search.php`: trains from `from` to `to` (Chinese or pinyin) on `date`; `student` asks for
    /// student fares (which cannot be ordered).
    pub async fn search(
        &self,
        from: &str,
        to: &str,
        date: NaiveDate,
        student: bool,
    ) -> Result<SearchResult, JuheError> {
        let params = vec![
            ("from".to_string(), from.to_string()),
            ("to".to_string(), to.to_string()),
            ("date".to_string(), date.format("%Y%m%d").to_string()),
            ("type".to_string(), if student { "2" } else { "1" }.to_string()),
        ];
        let body = self.post(&self.paths.search, params).await?;
        decode::decode_search(&body)
    }

    /// `createOrder.php`. A [`JuheError::Timeout`] or [`JuheError::Network`] leaves the outcome
    /// unknown: ask [`JuheClient::order_detail`] before re-sending the same `out_order_no`.
    pub async fn create_order(&self, order: &CreateOrder) -> Result<Created, JuheError> {
        let body = self.post(&self.paths.create, create_params(order)).await?;
        decode::decode_created(&body)
    }

    /// `orderDetail.php`; `issue` selects the issued view (tickets, passenger ids).
    pub async fn order_detail(&self, out_order_no: &str, issue: bool) -> Result<OrderDetail, JuheError> {
        let mut params = vec![("outOrderNo".to_string(), out_order_no.to_string())];
        if issue {
            params.push(("issue".to_string(), "1".to_string()));
        }
        let body = self.post(&self.paths.detail, params).await?;
        decode::decode_order_detail(&body)
    }

    /// `cancelOrder.php`: stops a grab (only while N/B/D; it cannot be restarted). Returns Juhe's
    /// order number.
    pub async fn cancel_order(&self, out_order_no: &str) -> Result<String, JuheError> {
        let params = vec![("outOrderNo".to_string(), out_order_no.to_string())];
        let body = self.post(&self.paths.cancel, params).await?;
        decode::decode_cancelled(&body)
    }

    /// `applyRefundOrder.php`: asks to refund one passenger's ticket; the result comes as a
    /// type-2 push (and in `orderDetail`).
    pub async fn apply_refund(
        &self,
        out_order_no: &str,
        passenger_id: &str,
    ) -> Result<RefundAccepted, JuheError> {
        let params = vec![
            ("outOrderNo".to_string(), out_order_no.to_string()),
            ("passengerId".to_string(), passenger_id.to_string()),
        ];
        let body = self.post(&self.paths.refund, params).await?;
        decode::decode_refund(&body)
    }

    /// `addCallbackUrl.php`: where pushes of `kind` (1 result, 2 refund, 3 expiry) go.
    pub async fn add_callback_url(&self, url: &str, kind: u8) -> Result<(), JuheError> {
        let params = vec![
            ("url".to_string(), url.to_string()),
            ("type".to_string(), kind.to_string()),
        ];
        let body = self.post(&self.paths.callback, params).await?;
        decode::decode_ack(&body)
    }

    /// `dataDictionary.php`, undecoded (for `yupiao` diagnostics).
    pub async fn data_dictionary(&self) -> Result<serde_json::Value, JuheError> {
        let body = self.post(&self.paths.dictionary, Vec::new()).await?;
        decode::envelope(&body)
    }

    /// One form POST; the key goes first in the body. Returns the body of a 2xx answer.
    async fn post(&self, url: &str, params: Vec<(String, String)>) -> Result<String, JuheError> {
        let form_body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("key", self.key.expose_secret());
            for (k, v) in &params {
                form.append_pair(k, v);
            }
            form.finish()
        };
        tracing::debug!(url, "juhe request");
        let resp = self
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(form_body)
            .send()
            .await
            .map_err(|e| self.transport_error(url, e))?;
        let status = resp.status();
        let body = crate::body::read_text(resp).await.map_err(|e| match e {
            crate::body::BodyError::Http(e) => self.transport_error(url, e),
            other => JuheError::Decode(format!("{url}: {other}")),
        })?;
        if !status.is_success() {
            return Err(JuheError::Network {
                url: url.to_string(),
                message: format!("HTTP {}", status.as_u16()),
            });
        }
        Ok(self.scrub(body))
    }

    fn transport_error(&self, url: &str, e: reqwest::Error) -> JuheError {
        if e.is_timeout() {
            return JuheError::Timeout { url: url.to_string() };
        }
        let e = e.without_url();
        let mut message = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            message = format!("{message}: {s}");
            src = s.source();
        }
        JuheError::Network {
            url: url.to_string(),
            message: self.scrub(message),
        }
    }

    /// Belt and braces: an answer echoing the key must not carry it into an error message.
    fn scrub(&self, text: String) -> String {
        let key = self.key.expose_secret();
        if key.len() >= 4 && text.contains(key) {
            text.replace(key, "[REDACTED]")
        } else {
            text
        }
    }
}
