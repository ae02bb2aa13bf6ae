"""Chinese name pools for the synthetic data; names are combined, so any resemblance to real places is chance."""

from __future__ import annotations

import numpy as np

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建文辉玲红志宇浩然晨欣怡子涵梓萱一诺雨轩俊博嘉琪思远天佑佳慧海燕春梅国庆德福秋")
PLACE_FIRST = list("文翠嘉桂和景春兴益明华新安康德福瑞祥丰金玉青竹松梅兰荷星月古西东南北天紫云长永宝庆")
PLACE_SECOND = list("苑园新华安和兴湖溪桥塘山港林里坊城庭湾塔岭泉源亭")
VILLAGE_SECOND = ["家", "坞", "埠", "桥", "塘", "庄", "山", "湾", "岙", "畈"]
ESTATE_SUFFIX = ["苑", "花园", "小区", "新村", "家园", "公寓", "府", "雅苑", "嘉园", "名苑"]
ROAD_FIRST = list("文学教古天莲丰益紫金翠振兴明和余西东北南长延保庆体")
ROAD_SECOND = list("一二三四五六七华安新德宁平山湖溪塘桥")


def unique_names(rng: np.random.Generator, first: list[str], second: list[str], n: int, suffix: str = "",
                 taken: set[str] | None = None) -> list[str]:
    """``n`` distinct names first+second+suffix, none already in ``taken`` (which is updated)."""
    taken = taken if taken is not None else set()
    pool = [a + b + suffix for a in first for b in second if a != b and a + b + suffix not in taken]
    if len(pool) < n:
        raise ValueError(f"only {len(pool)} names left for {n} wanted")
    picked = [pool[i] for i in rng.choice(len(pool), n, replace=False)]
    taken.update(picked)
    return picked


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    """Chinese personal names: a surname and one or two given characters."""
    sur = rng.choice(SURNAMES, n)
    g1 = rng.choice(GIVEN, n)
    g2 = np.where(rng.random(n) < 0.7, rng.choice(GIVEN, n), "")
    return [a + b + c for a, b, c in zip(sur, g1, g2)]
