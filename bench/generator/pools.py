"""Pools of names, companies, streets and jobs drawn once from Faker (zh_CN + en_US), then sampled vectorised.

Faker is slow per call, so a few thousand values are drawn up front with a seeded Faker. Every value is
GBK-encodable (the day-1 customers file is written in GBK) and single-line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from faker import Faker

# Chinese names many unrelated people share: planted as look-alikes that must NOT be merged.
COMMON_ZH_NAMES = ("王伟", "李娜", "张伟", "王芳", "李伟", "刘洋", "张敏", "王静")

# (city, region) pairs for Chinese addresses.
ZH_CITIES = (
    ("北京", "北京"),
    ("上海", "上海"),
    ("广州", "广东"),
    ("深圳", "广东"),
    ("东莞", "广东"),
    ("杭州", "浙江"),
    ("宁波", "浙江"),
    ("南京", "江苏"),
    ("苏州", "江苏"),
    ("成都", "四川"),
    ("重庆", "重庆"),
    ("武汉", "湖北"),
    ("西安", "陕西"),
    ("天津", "天津"),
    ("长沙", "湖南"),
    ("郑州", "河南"),
    ("青岛", "山东"),
    ("济南", "山东"),
    ("厦门", "福建"),
    ("福州", "福建"),
    ("合肥", "安徽"),
    ("昆明", "云南"),
    ("沈阳", "辽宁"),
    ("大连", "辽宁"),
    ("哈尔滨", "黑龙江"),
)
# (city, region, country) for Latin-named customers living abroad.
INTL_CITIES = (
    ("Singapore", "Singapore", "SG"),
    ("Hong Kong", "Hong Kong", "HK"),
    ("London", "England", "GB"),
    ("Berlin", "Berlin", "DE"),
    ("San Francisco", "California", "US"),
    ("New York", "New York", "US"),
    ("Sydney", "New South Wales", "AU"),
    ("Toronto", "Ontario", "CA"),
)
EMAIL_DOMAINS = (
    "qq.com",
    "163.com",
    "126.com",
    "gmail.com",
    "outlook.com",
    "sina.com",
    "foxmail.com",
    "hotmail.com",
)
# Free-mail domains several small companies share for their role mailbox (info@163.com ...).
SHARED_COMPANY_DOMAINS = ("163.com", "qq.com", "126.com", "aliyun.com")


@dataclass(frozen=True)
class Pools:
    zh_names: np.ndarray
    en_first: np.ndarray
    en_last: np.ndarray
    romanized_first: np.ndarray
    romanized_last: np.ndarray
    zh_companies: np.ndarray
    en_companies: np.ndarray
    zh_streets: np.ndarray
    en_streets: np.ndarray
    zh_jobs: np.ndarray
    en_jobs: np.ndarray


def _clean(values: list[str], n: int) -> np.ndarray:
    """Unique, single-line, GBK-encodable values in first-seen order (deterministic), at most n."""
    out: list[str] = []
    seen: set[str] = set()
    for v in values:
        v = " ".join(v.split())
        if not v or v in seen:
            continue
        try:
            v.encode("gbk")
        except UnicodeEncodeError:
            continue
        seen.add(v)
        out.append(v)
        if len(out) == n:
            break
    return np.array(out, dtype=object)


@lru_cache(maxsize=4)
def build_pools(seed: int) -> Pools:
    """Draw every pool with Faker instances seeded from `seed` (same seed, same pools)."""
    zh = Faker("zh_CN")
    zh.seed_instance(seed)
    en = Faker("en_US")
    en.seed_instance(seed + 1)
    return Pools(
        zh_names=_clean([zh.name() for _ in range(3500)], 3000),
        en_first=_clean([en.first_name() for _ in range(900)], 500),
        en_last=_clean([en.last_name() for _ in range(900)], 500),
        romanized_first=_clean([zh.first_romanized_name().lower() for _ in range(800)], 300),
        romanized_last=_clean([zh.last_romanized_name().lower() for _ in range(800)], 200),
        zh_companies=_clean([zh.company() for _ in range(1500)], 1200),
        en_companies=_clean([en.company() for _ in range(800)], 600),
        zh_streets=_clean([zh.street_address() for _ in range(2000)], 1800),
        en_streets=_clean([en.street_address() for _ in range(1000)], 900),
        zh_jobs=_clean([zh.job() for _ in range(600)], 200),
        en_jobs=_clean([en.job() for _ in range(600)], 200),
    )
