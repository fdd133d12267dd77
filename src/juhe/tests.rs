//! The decoders against the example answers of Juhe's own document (seed 001), plus the drifts
//! seen in practice.

use chrono::NaiveDate;
use secrecy::SecretString;
use serde_json::Value;

use super::decode::*;
use super::*;

const SEED: &str = include_str!("../../tests/fixtures/seed_001_juhe_grabTicket.txt");

/// The JSON example that follows `markers` (found in sequence) in seed 001, made strict: the
/// document's examples carry `//` comments and a few missing commas.
fn example(markers: &[&str]) -> String {
    let mut at = 0;
    for m in markers {
        at += SEED[at..]
            .find(m)
            .unwrap_or_else(|| panic!("{m} not in seed 001"))
            + m.len();
    }
    let start = at + SEED[at..].find('{').unwrap();
    let (mut depth, mut in_str, mut escaped) = (0, false, false);
    let mut end = start;
    for (i, c) in SEED[start..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            '{' if !in_str => depth += 1,
            '}' if !in_str => {
                depth -= 1;
                if depth == 0 {
                    end = start + i + 1;
                    break;
                }
            }
            _ => {}
        }
    }
    strict(&SEED[start..end])
}

fn strict(raw: &str) -> String {
    let lines: Vec<String> = raw
        .lines()
        .map(|line| {
            let mut in_str = false;
            let chars: Vec<char> = line.chars().collect();
            let mut cut = chars.len();
            for i in 0..chars.len() {
                match chars[i] {
                    '"' => in_str = !in_str,
                    '/' if !in_str && chars.get(i + 1) == Some(&'/') => {
                        cut = i;
                        break;
                    }
                    _ => {}
                }
            }
            chars[..cut].iter().collect::<String>().trim_end().to_string()
        })
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        out.push_str(line);
        let next = lines.get(i + 1).map(|l| l.trim_start()).unwrap_or("");
        let ends_value =
            line.ends_with(['"', '}', ']', 'e', 'l']) || line.ends_with(|c: char| c.is_ascii_digit());
        if ends_value && (next.starts_with('"') || next.starts_with('{')) {
            out.push(',');
        }
        out.push('\n');
    }
    serde_json::from_str::<Value>(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    out
}

#[test]
fn the_search_example_gives_the_query_key_trains_and_tickets() {
    let r = decode_search(&example(&["1.站站查询"])).unwrap();
    assert_eq!(r.query_key, "6d31300d58be4d239af4039c71ddc313");
    assert_eq!(r.trains.len(), 1);
    let t = &r.trains[0];
    assert_eq!(t.train_no, "G7066");
    assert_eq!(
        (t.from_station.as_str(), t.to_station.as_str()),
        ("上海西", "苏州园区")
    );
    assert_eq!(
        (t.from_time.as_str(), t.to_time.as_deref()),
        ("09:02", Some("09:00"))
    );
    assert_eq!(t.run_minutes, Some(28));
    assert!(t.is_bookable());
    assert_eq!(t.train_class.as_deref(), Some("GD"));
    let second = &t.tickets["secondseat"];
    assert_eq!(second.price, Some(29.5));
    assert_eq!(second.seat_state, 1);
    assert_eq!(second.seats, Some(490));
    assert_eq!(second.seat_name.as_deref(), Some("二等座"));
    let sleeper = &t.tickets["softsleeperdown"];
    assert_eq!((sleeper.seat_state, sleeper.seats), (0, Some(0)));
    assert_eq!(t.tickets.len(), 4);
}

#[test]
fn the_create_example_gives_both_order_numbers() {
    let c = decode_created(&example(&["2.创建抢票单", "JSON返回示例:"])).unwrap();
    assert_eq!(c.order_no, "TFT583U752U210D284004800356");
    assert_eq!(c.out_order_no, "2016113001");
}

#[test]
fn the_plain_detail_example_gives_status_and_failure_reason() {
    let d = decode_order_detail(&example(&["未出票(不传issue参数)json示例:"])).unwrap();
    assert_eq!(d.status, OrderStatus::Failed);
    assert!(d.status.is_final());
    assert_eq!(d.train_no.as_deref(), Some("Z175"));
    assert_eq!(d.seat_class.as_deref(), Some("硬座"));
    assert_eq!(d.grab_end_time.as_deref(), Some("2016-11-30T18:00:00"));
    assert_eq!(d.depart_time.as_deref(), Some("2016-12-30T02:29:00"));
    assert!(
        d.fail_msg
            .as_deref()
            .unwrap()
            .starts_with("乘客身份信息未通过验证")
    );
    assert_eq!(d.order_state_code, None);
    let p = &d.passengers[0];
    assert_eq!(p.passenger_id, None);
    assert_eq!(p.passenger_type.as_deref(), Some("1"));
    assert_eq!(p.ticket_price, Some(0.0));
    assert_eq!(p.id_masked.as_deref(), Some("3203**********916"));
}

#[test]
fn the_issued_detail_example_gives_passenger_ids_seats_and_ticket_states() {
    let d = decode_order_detail(&example(&["已出票(加issue参数)json示例:"])).unwrap();
    assert_eq!(d.status, OrderStatus::Issued);
    assert_eq!(d.order_state_code.as_deref(), Some("F"));
    assert_eq!(d.order_state.as_deref(), Some("已出票"));
    assert_eq!(d.out_order_no.as_deref(), Some("2016120501"));
    assert_eq!(d.ticket_no.as_deref(), Some("E345091034"));
    assert_eq!(d.order_price, Some(9.0));
    assert_eq!(d.juhe_service_fee, Some(8.0));
    assert_eq!(d.fail_msg, None);
    assert_eq!(d.depart_time.as_deref(), Some("2016-12-29 03:34:00"));
    let p = &d.passengers[0];
    assert_eq!(p.passenger_id.as_deref(), Some("623838773"));
    assert_eq!(p.seat_no.as_deref(), Some("07车厢,009号"));
    assert_eq!(p.ticket_no.as_deref(), Some("E3450910341070009"));
    assert_eq!(p.ticket_state, Some(TicketState::Issued));
    assert_eq!(p.seat_class.as_deref(), Some("hardseat"));
    assert_eq!(p.id_type.as_deref(), Some("1"));
    assert_eq!(p.ticket_price, Some(9.0));
}

#[test]
fn the_failed_cancel_example_is_an_api_error_whose_reason_names_msg_code_221() {
    let e = decode_cancelled(&example(&["取消失败:"])).unwrap_err();
    assert_eq!(
        e,
        JuheError::Api {
            code: 223_801,
            reason: "抢票取消失败".into(),
            msg_code: Some("221".into())
        }
    );
    assert!(!e.is_transient());
    assert_eq!(
        decode_cancelled(&example(&["取消成功:"])).unwrap(),
        "TFT583U7A64210D1BB016912627"
    );
}

#[test]
fn the_failed_refund_example_223804_means_the_order_is_unknown() {
    let e = decode_refund(&example(&["5.申请退票", "失败:"])).unwrap_err();
    assert_eq!(
        e,
        JuheError::NotFound {
            reason: "参数错误:订单号或passengerId不存在".into()
        }
    );
    let ok = decode_refund(&example(&["5.申请退票", "成功:"])).unwrap();
    assert_eq!(ok.order_no, "TFT583U7D552101629055112720");
    assert_eq!(ok.passenger_id, "615151438");
}

#[test]
fn the_callback_configuration_answer_is_success_although_it_has_data_not_result() {
    decode_ack(&example(&["配置成功json示例:"])).unwrap();
}

#[test]
fn a_msg_code_other_than_201_on_223804_is_kept_as_an_api_error() {
    let body = r#"{"reason":"参数错误:订单号或passengerId不存在","result":null,"error_code":223804,"msgCode":"301"}"#;
    let e = decode_refund(body).unwrap_err();
    assert_eq!(e.msg_code(), Some("301"));
    let body = r#"{"reason":"x","result":{"msgCode":201},"error_code":"223899"}"#;
    assert!(matches!(decode_refund(body), Err(JuheError::NotFound { .. })));
}

#[test]
fn lenient_types_numbers_as_strings_and_missing_fields_decode() {
    let body = r#"{"error_code":"0","reason":"0","result":{
        "orderStateCode":"T","orderPrice":9,"juheServiceFee":"8.5",
        "passengers":[{"passengerId":623838773,"passengerType":1,"ticketStateCode":"T","ticketPrice":"9.00"},{}]}}"#;
    let d = decode_order_detail(body).unwrap();
    assert_eq!(d.status, OrderStatus::Refunded);
    assert_eq!(d.order_price, Some(9.0));
    assert_eq!(d.juhe_service_fee, Some(8.5));
    assert_eq!(d.passengers[0].passenger_id.as_deref(), Some("623838773"));
    assert_eq!(d.passengers[0].passenger_type.as_deref(), Some("1"));
    assert_eq!(d.passengers[0].ticket_state, Some(TicketState::Refunded));
    assert_eq!(d.passengers[1].ticket_state, None);
    assert_eq!(d.train_no, None);

    let search = r#"{"error_code":0,"result":{"queryKey":"k","trains":[{"trainNo":"G1","fromStation":"北京南",
        "toStation":"上海虹桥","bookState":"1","tickets":{"secondseat":{"price":"662","seatState":"1","seats":21}}}]}}"#;
    let r = decode_search(search).unwrap();
    let t = &r.trains[0];
    assert!(t.is_bookable());
    assert_eq!(t.to_time, None);
    assert_eq!(t.tickets["secondseat"].price, Some(662.0));
    assert_eq!(t.tickets["secondseat"].seats, Some(21));

    let odd = r#"{"error_code":0,"result":{"status":"X"}}"#;
    assert_eq!(
        decode_order_detail(odd).unwrap().status,
        OrderStatus::Unknown("X".into())
    );
}

#[test]
fn bodies_that_are_not_an_envelope_are_decode_errors() {
    for body in ["<html>502</html>", "", "[]", r#"{"reason":"success"}"#] {
        assert!(matches!(envelope(body), Err(JuheError::Decode(_))), "{body}");
    }
    assert!(matches!(
        decode_search(r#"{"error_code":0,"result":{"trains":[]}}"#),
        Err(JuheError::Decode(m)) if m.contains("queryKey")
    ));
}

#[test]
fn api_errors_explain_their_msg_code_in_chinese() {
    let e =
        envelope(r#"{"reason":"请重新查询","result":null,"error_code":223802,"msgCode":"215"}"#).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("223802") && text.contains("站站查询结果已过期"),
        "{text}"
    );
    let key = envelope(r#"{"resultcode":"101","reason":"错误的请求KEY","result":null,"error_code":10001}"#)
        .unwrap_err();
    assert_eq!(
        key,
        JuheError::Api {
            code: WRONG_KEY,
            reason: "错误的请求KEY".into(),
            msg_code: None
        }
    );
}

#[test]
fn msg_code_texts_cover_the_whole_table_of_seed_001() {
    let dict: Value = serde_json::from_str(&example(&["7.数据字典"])).unwrap();
    let table = dict["result"]["msgCode"]["data"].as_object().unwrap();
    assert_eq!(table.len(), 66);
    assert_eq!(MSG_CODES.len(), table.len());
    for (code, text) in table {
        assert_eq!(msg_code_text(code), text.as_str(), "msgCode {code}");
    }
    assert_eq!(msg_code_text("998"), None);
    assert_eq!(msg_code_for_text("抢票取消失败"), Some("221"));
}

#[test]
fn status_and_ticket_labels_are_those_of_the_dictionary() {
    let dict: Value = serde_json::from_str(&example(&["7.数据字典"])).unwrap();
    for (code, text) in dict["result"]["orderStatus"]["data"].as_object().unwrap() {
        let s = OrderStatus::parse(code);
        assert_eq!(s.label_zh(), text.as_str().unwrap());
        assert_eq!(s.code(), code);
    }
    for (code, text) in dict["result"]["ticketStateCode"]["data"].as_object().unwrap() {
        assert_eq!(TicketState::parse(code).label_zh(), text.as_str().unwrap());
    }
}

#[test]
fn only_grabbing_orders_are_cancellable_and_failed_expired_cancelled_refunded_are_final() {
    let all = ["N", "B", "D", "F", "U", "O", "C", "T", "E"].map(OrderStatus::parse);
    let cancellable: Vec<&str> = all
        .iter()
        .filter(|s| s.is_cancellable())
        .map(|s| s.code())
        .collect();
    let fin: Vec<&str> = all.iter().filter(|s| s.is_final()).map(|s| s.code()).collect();
    assert_eq!(cancellable, ["N", "B", "D"]);
    assert_eq!(fin, ["U", "O", "C", "T"]);
    assert!(!OrderStatus::Unknown("Z".into()).is_final());
}

/// The passenger of the documentation's examples (a made-up identity).
pub(super) fn zhang_san() -> JuhePassenger {
    JuhePassenger {
        name: "张三".into(),
        passenger_type: 1,
        id_card_type: "1".into(),
        id_card_no: SecretString::from("362321199001011030"),
        birthday: "1990-01-01".into(),
    }
}

fn order() -> CreateOrder {
    CreateOrder {
        query_key: "6d31300d58be4d239af4039c71ddc313".into(),
        out_order_no: "yp20261201g1a".into(),
        ticket_model: 0,
        account_no: None,
        account_pwd: None,
        train_no: vec!["G1".into(), "G3".into()],
        seat_class_code: vec!["secondseat".into(), "firstseat".into()],
        main_train_no: "G1".into(),
        main_seat_class: "secondseat".into(),
        from_station: "北京南".into(),
        to_station: "上海虹桥".into(),
        depart_date: "2026-12-01 07:00".into(),
        close_time: NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(5, 0, 0)
            .unwrap(),
        accept_no_seat: false,
        person: "张三".into(),
        cellphone: SecretString::from("13812345678"),
        email: Some("a@example.com".into()),
        passengers: vec![zhang_san()],
    }
}

#[test]
fn create_params_are_exactly_the_documented_ones_in_order() {
    let p = create_params(&order());
    let got: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        got,
        [
            ("queryKey", "6d31300d58be4d239af4039c71ddc313"),
            ("outOrderNo", "yp20261201g1a"),
            ("ticketModel", "0"),
            ("trainNo", "G1|G3"),
            ("seatClassCode", "secondseat|firstseat"),
            ("mainTrainNo", "G1"),
            ("mainSeatClass", "secondseat"),
            ("fromStation", "北京南"),
            ("toStation", "上海虹桥"),
            ("departDate", "2026-12-01 07:00"),
            ("closeTime", "2026-12-01 05:00:00"),
            ("acceptNoSeat", "0"),
            ("person", "张三"),
            ("cellphone", "13812345678"),
            ("email", "a@example.com"),
            (
                "passengers",
                r#"[{"birthday":"1990-01-01","idCardNo":"362321199001011030","idCardType":"1","passengerName":"张三","passengerType":"1"}]"#
            ),
        ]
    );
    assert!(!p.iter().any(|(k, _)| k == "key"));
}

#[test]
fn own_account_mode_sends_the_account_and_no_email_when_empty() {
    let mut o = order();
    o.ticket_model = 1;
    o.account_no = Some("me12306".into());
    o.account_pwd = Some(SecretString::from("pw"));
    o.email = Some(" ".into());
    o.accept_no_seat = true;
    let p = create_params(&o);
    let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(&keys[2..5], ["ticketModel", "accountNo", "accountPwd"]);
    assert!(!keys.contains(&"email"));
    assert!(p.contains(&("acceptNoSeat".into(), "1".into())));
    assert!(!format!("{o:?}").contains("362321199001011030"));
}

#[test]
fn the_push_examples_decode_and_dedupe_on_order_type_and_msg_code() {
    let ok = decode_push(1, &example(&["出票成功推送示例:"])).unwrap();
    assert!(ok.is_success());
    assert_eq!(ok.dedupe_key(), "2016113006:1:100");
    assert_eq!(ok.ticket_no.as_deref(), Some("E566781381"));
    assert_eq!(ok.order_amount, Some(9.0));
    let p = &ok.passengers[0];
    assert_eq!(p.passenger_id.as_deref(), Some("615151438"));
    assert_eq!(p.seat_no.as_deref(), Some("02车厢,007号"));
    assert_eq!(p.seat_class.as_deref(), Some("1"));

    let failed = decode_push(1, &example(&["出票失败推送示例:"])).unwrap();
    assert!(!failed.is_success());
    assert_eq!(failed.dedupe_key(), "2016113001:1:101");
    assert_eq!(failed.ticket_no, None);
    assert_eq!(failed.passengers[0].seat_no, None);

    let expired = decode_push(3, &example(&["订单过期推送示例:"])).unwrap();
    assert_eq!(expired.msg_info.as_deref(), Some("抢票单过期"));
    assert_eq!(expired.dedupe_key(), "2016113005:3:101");
    assert_ne!(expired.dedupe_key(), failed.dedupe_key());

    let refund = decode_push(2, &example(&["退款成功推送示例:"])).unwrap();
    assert_eq!(refund.refund_price, Some(9.0));
    assert_eq!(refund.refund_type.as_deref(), Some("online"));
    assert_eq!(refund.passengers[0].refund_price, Some(9.0));
    let refund_failed = decode_push(2, &example(&["退款失败推送示例:"])).unwrap();
    assert_eq!(refund_failed.msg_code, "101");
}

#[test]
fn form_encoded_pushes_decode_like_json_ones() {
    let json = example(&["出票成功推送示例:"]);
    let wrapped = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("data", &json)
        .finish();
    assert_eq!(decode_push(1, &wrapped).unwrap(), decode_push(1, &json).unwrap());

    let flat = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("orderNo", "TFT1")
        .append_pair("outOrderNo", "yp123456")
        .append_pair("msgCode", "100")
        .append_pair("msgDetail", "张三|362321199001011030")
        .append_pair("passengers", r#"[{"passengerId":"1","seatNo":"07车厢,009号"}]"#)
        .finish();
    let p = decode_push(1, &flat).unwrap();
    assert_eq!(p.dedupe_key(), "yp123456:1:100");
    assert_eq!(p.passengers[0].seat_no.as_deref(), Some("07车厢,009号"));
    assert_eq!(p.msg_detail.as_deref(), Some("张三|3623***********030"));

    assert!(decode_push(4, &json).is_err());
    assert!(decode_push(1, r#"{"msgCode":"100"}"#).is_err());
    assert!(decode_push(1, "").is_err());
}

#[test]
fn masks_keep_only_the_ends_of_phones_and_ids() {
    assert_eq!(mask_phone("13812345678"), "138****5678");
    assert_eq!(mask_id("362321199001011030"), "3623***********030");
    // One masking policy for the whole program (crate::identity): short numbers keep less.
    assert_eq!(mask_id("E12345678"), "E******78");
    assert_eq!(mask_phone("12345"), "*****");
    assert_eq!(mask_id(""), "");
}

#[test]
fn transient_errors_are_timeouts_network_and_juhe_overload() {
    let api = |code, m: Option<&str>| JuheError::Api {
        code,
        reason: String::new(),
        msg_code: m.map(str::to_string),
    };
    assert!(JuheError::Timeout { url: "u".into() }.is_transient());
    assert!(api(10_012, None).is_transient());
    assert!(api(223_802, Some("104")).is_transient());
    assert!(!api(223_802, Some("215")).is_transient());
    assert!(!api(WRONG_KEY, None).is_transient());
    assert!(
        !JuheError::NotFound {
            reason: String::new()
        }
        .is_transient()
    );
    assert!(api(DUPLICATE_OUT_ORDER_NO, None).is_duplicate_order());
}
