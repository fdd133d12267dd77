//! [`JuheError`] and Juhe's codes: the `error_code`s the order flow branches on and the msgCode
//! table (seed 001), shared by the client, the decoders, the simulator and the emails.

/// `error_code` of Juhe's "order or passenger does not exist" answer (seed 001, refund example).
pub const ORDER_NOT_FOUND: i64 = 223_804;
/// `error_code` of a refused cancellation (seed 001: "抢票取消失败").
pub const CANCEL_FAILED: i64 = 223_801;
/// `error_code` the simulator gives a second `createOrder` with a known `outOrderNo`. The real
/// code is undocumented; [`JuheError::is_duplicate_order`] also recognises the wording.
pub const DUPLICATE_OUT_ORDER_NO: i64 = 223_805;
/// Juhe's platform-wide "wrong key" error.
pub const WRONG_KEY: i64 = 10_001;

/// Why a Juhe call produced no usable answer. Callers branch on the variant: the order flow
/// re-submits a create only after [`JuheError::NotFound`], and treats a [`JuheError::Timeout`]
/// or [`JuheError::Network`] on create as "outcome unknown, ask `orderDetail`".
///
/// No variant ever holds the API key: URLs in messages are the endpoint without parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JuheError {
    /// Juhe answered with `error_code != 0`.
    #[error("{}", api_text(*code, reason, msg_code.as_deref()))]
    Api {
        code: i64,
        reason: String,
        /// The msgCode (seed 001 table) when the answer carries one or its reason is one of the
        /// table's texts.
        msg_code: Option<String>,
    },
    /// The order (or, for a refund, the passenger) does not exist: `223804`, or msgCode 201.
    #[error("Juhe does not know this order: {reason}")]
    NotFound { reason: String },
    /// No answer in time. On `createOrder` the order may or may not exist.
    #[error("Juhe did not answer in time ({url})")]
    Timeout { url: String },
    /// Connection failure or an HTTP error status: the request's outcome is unknown.
    #[error("cannot reach Juhe ({url}): {message}")]
    Network { url: String, message: String },
    /// An answer we could not read.
    #[error("unreadable Juhe answer: {0}")]
    Decode(String),
}

fn api_text(code: i64, reason: &str, msg_code: Option<&str>) -> String {
    match msg_code {
        Some(m) => match msg_code_text(m) {
            Some(text) if text != reason => format!("Juhe error {code}: {reason} (msgCode {m}: {text})"),
            _ => format!("Juhe error {code}: {reason} (msgCode {m})"),
        },
        None => format!("Juhe error {code}: {reason}"),
    }
}

impl JuheError {
    /// Worth retrying later with the same parameters (and, for a create, the same outOrderNo):
    /// timeouts, network trouble, Juhe's own overload and maintenance answers.
    pub fn is_transient(&self) -> bool {
        match self {
            JuheError::Timeout { .. } | JuheError::Network { .. } => true,
            // 10011 IP over limit, 10012 over request quota, 10014 internal error, 10020 maintenance.
            JuheError::Api { code, msg_code, .. } => {
                matches!(code, 10_011 | 10_012 | 10_014 | 10_020)
                    || matches!(msg_code.as_deref(), Some("104" | "214"))
            }
            JuheError::NotFound { .. } | JuheError::Decode(_) => false,
        }
    }

    /// `createOrder` refused because this outOrderNo already names an order: the intent was
    /// already submitted, so adopt the existing order (via `orderDetail`) instead of failing.
    pub fn is_duplicate_order(&self) -> bool {
        match self {
            JuheError::Api { code, reason, .. } => {
                *code == DUPLICATE_OUT_ORDER_NO
                    || (reason.contains("订单号") && (reason.contains("重复") || reason.contains("已存在")))
            }
            _ => false,
        }
    }

    /// The msgCode, if any.
    pub fn msg_code(&self) -> Option<&str> {
        match self {
            JuheError::Api { msg_code, .. } => msg_code.as_deref(),
            _ => None,
        }
    }
}

/// The msgCode table of seed 001 (`dataDictionary` → `msgCode`), exact strings.
pub(crate) const MSG_CODES: &[(&str, &str)] = &[
    ("100", "请求成功"),
    ("101", "参数无效"),
    ("102", "签名验证失败"),
    ("103", "该IP没有权限访问此接口"),
    ("104", "请求过于频繁,请稍后重试"),
    ("105", "没有权限访问此接口"),
    ("201", "该订单不存在"),
    ("202", "当前订单状态不允许执行此操作"),
    ("203", "当前时间不支持此服务"),
    ("204", "坐席无效"),
    ("205", "发车日期无效"),
    ("206", "取消次数过多,取消请求已锁定"),
    ("207", "订单已过期"),
    ("208", "车次号无效"),
    ("209", "该坐席已售完"),
    ("210", "该账号有未完成的订单,无法继续执行此操作"),
    ("211", "分销商身份验证无效"),
    ("212", "该订单未付款,无法出票"),
    ("213", "坐席价格错误"),
    ("214", "占座排队中,请等待占座结果"),
    ("215", "站站查询结果已过期,请重新查询"),
    ("216", "距离发车时间太近,无法执行此操作"),
    ("217", "实际占座为无座,乘客制定不接受无座"),
    ("218", "测试订单不允许预定20天以内发车的车次"),
    ("219", "抢票单已达预约上限"),
    ("220", "抢票单乘客数,车次数,坐席数超过配置上限"),
    ("221", "抢票取消失败"),
    ("222", "抢票功能关闭"),
    ("301", "该订单中无此乘客"),
    ("302", "乘客身份信息涉嫌被他人冒用"),
    ("303", "当前车票状态不允许执行此操作"),
    ("304", "乘客信息不正确"),
    ("305", "乘客已预订过与该行程有冲突的车票"),
    ("306", "乘客已被法院依法限制高消费"),
    ("307", "乘客已预订过该车次,无法重复预订"),
    ("308", "乘客身份信息未通过验证"),
    ("309", "出票5分钟内无法提交退票"),
    ("310", "距离发车时间太近,无法申请退票"),
    ("311", "订单中包含儿童票,如需退票请先退儿童票"),
    ("312", "不支持网上退票"),
    ("313", "订单中包含儿童票,该乘客无法改签"),
    ("314", "距离发车时间太近,无法改签"),
    ("315", "要改签的车次不在预售期内,无法改签"),
    ("316", "该订单不支持改签"),
    ("317", "改签次数过多,改签请求已锁定"),
    ("318", "当天取消改签次数过多,取消请求已锁定"),
    ("319", "购保失败"),
    ("320", "退保失败"),
    ("401", "购票所使用的12306账号未进行手机核验"),
    ("402", "购票所使用的12306账号被封,无法执行此操作"),
    ("403", "12306账号登录失败"),
    ("404", "12306账号尚未激活,请用注册时的邮箱激活后重试"),
    ("405", "12306账号未通过身份信息核验,请核验后重试"),
    ("406", "12306账号已被锁定"),
    ("407", "登录验证码错误"),
    ("408", "12306账号格式不正确"),
    ("409", "12306账号常用联系人已达上限,无法继续添加"),
    ("410", "当日获取短信验证码次数已达上限"),
    ("411", "邮箱已被注册"),
    ("412", "用户名已被注册"),
    ("413", "手机号码已被注册"),
    ("414", "证件号码已被注册"),
    ("415", "12306账号不可用"),
    ("416", "手机号或证件号码不正确"),
    ("417", "该联系人已存在"),
    ("999", "未知的失败原因"),
];

/// The Chinese meaning of a msgCode (seed 001), e.g. `"215"` → 站站查询结果已过期,请重新查询.
pub fn msg_code_text(code: &str) -> Option<&'static str> {
    let code = code.trim();
    MSG_CODES.iter().find(|(c, _)| *c == code).map(|(_, t)| *t)
}

/// The msgCode whose text is exactly `text` (Juhe's error `reason` is often one of them).
pub fn msg_code_for_text(text: &str) -> Option<&'static str> {
    let text = text.trim();
    MSG_CODES.iter().find(|(_, t)| *t == text).map(|(c, _)| *c)
}
