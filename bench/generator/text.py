"""Free text for communications and ticket feedback: mixed Chinese/English, commas, quotes, line breaks.

About 2 % of texts mention the customer's own phone number or email, which the warehouse must redact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import choice

COMM_OPENERS = (
    "客户咨询产品价格",
    "Followed up on the quote",
    "回访客户使用体验",
    "Customer asked about delivery dates",
    "介绍新品活动",
    "Discussed contract renewal",
    "客户反馈包装破损",
    "Left a voicemail",
    "确认订单信息",
    "Sent the brochure",
    "邀请参加线下活动",
    "Customer wants a bulk discount",
)
COMM_FOLLOWUPS = (
    "已发送报价单",
    "will call back next week",
    "客户表示满意",
    "needs approval from finance",
    "约定下周再联系",
    "asked for samples",
    "对价格比较敏感",
    "prefers email contact",
)
FEEDBACK_OPENERS = (
    "处理速度很快",
    "Agent was helpful",
    "问题没有彻底解决",
    "Took too long to get a reply",
    "客服态度很好",
    "Still waiting for the refund",
    "退货流程太复杂",
    "Great support, thanks",
    "希望能提供电话回访",
    "The fix worked",
)
FEEDBACK_FOLLOWUPS = (
    "下次还会购买",
    "would recommend",
    "希望改进物流",
    "had to explain twice",
    "整体满意",
    "not happy with the delay",
)
QUOTED = (' 客户原话: "尽快发货, 谢谢"', ' Customer said "call me after 6pm"', ' 备注: "VIP"')
SUBJECTS = (
    "报价跟进",
    "Renewal",
    "售后回访",
    "Order follow-up",
    "活动邀请",
    "Product question",
    "投诉处理",
    "Check-in call",
)


def free_text(
    rng: np.random.Generator, n: int, openers: tuple, followups: tuple, phones: np.ndarray, emails: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """n texts (object array) and a mask of the ones that mention the customer's phone or email.

    `phones` / `emails` are the customer's own values per text (None when missing).
    """
    text = choice(rng, openers, n)
    follow = rng.random(n) < 0.5
    joiner = np.where(rng.random(n) < 0.08, ",\n", ", ")
    text = np.where(follow, text + joiner + choice(rng, followups, n), text)
    quoted = rng.random(n) < 0.01
    text = np.where(quoted, text + choice(rng, QUOTED, n), text)
    use_phone = rng.random(n) < 0.5
    phones, emails = pd.Series(phones, dtype=object), pd.Series(emails, dtype=object)
    contact = pd.Series(np.where(use_phone, phones, emails), dtype=object)
    contact = contact.where(contact.notna(), pd.Series(np.where(use_phone, emails, phones), dtype=object))
    pii = (rng.random(n) < 0.02) & contact.notna().to_numpy()
    idx = np.flatnonzero(pii)
    mention = contact.iloc[idx].astype(str).str.strip()
    label = np.where(mention.str.contains("@", regex=False), " 邮箱: ", " 联系电话 ")
    text = text.astype(object)
    text[idx] = text[idx] + label + mention.to_numpy(dtype=object)
    return text, pii
