//! Photos of Chinese resident ID cards (居民身份证, the second generation), the front (人像面) and
//! the back (国徽面), with known truth, for measuring how well the server reads them. A card is
//! drawn up (`IdCard::random`: a plausible holder, a number whose region, birth date, sex digit
//! and GB 11643 check character agree, a validity that is sometimes over), rendered flat at
//! 20 px/mm on the card's printed ground with the real layout (`render_front`, `render_back`),
//! then photographed like the other scenes (`id_photo`): laid on a desk at a tilt and a little
//! perspective, under uneven light and an off white balance, often with a glare spot on the
//! laminate, blurred, noisy, JPEG'd and sometimes stored sideways behind an EXIF orientation.
//! Nothing here is a real person: names, addresses and numbers are drawn at random (the region
//! codes and police offices are real places, as a card's would be).
//!
//! The text is set in Noto Sans CJK SC and the number in Noto Sans Mono CJK SC (standing in for
//! the card's 黑体 and OCR-B), both from the collection Debian ships in `fonts-noto-cjk`
//! (`/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc`), licensed under the SIL Open Font
//! License 1.1. The file is read at run time, never copied into this repository: the subset font
//! beside `mod.rs` lacks most of the characters names and addresses need.
use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{Rgb, RgbImage};
use imageproc::drawing::{
    draw_filled_ellipse_mut, draw_filled_rect_mut, draw_polygon_mut, draw_text_mut, text_size,
};
use imageproc::geometric_transformations::Projection;
use imageproc::point::Point;
use imageproc::rect::Rect;

use super::{Rng, composite, desk, extent, jpeg_with_orientation, light, noise, placed};

const FONT_PATH: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

/// The card is ISO/IEC 7810 ID-1, 85.6 × 54 mm, rendered at 20 px/mm.
const W: u32 = 1712;
const H: u32 = 1080;

/// Type sizes, as the em in pixels (20 px/mm). The card sets item names (姓名, 性别 …) smaller
/// than the entries, the name a little larger than the other entries, and the number largest.
const LABEL_EM: f32 = 50.0;
const VALUE_EM: f32 = 62.0;
const NAME_EM: f32 = 72.0;
const NUMBER_EM: f32 = 92.0;

/// A card's validity is judged against the exam; cards ending before this day are expired.
const EXPIRY_LINE: (u32, u32, u32) = (2027, 5, 1);
/// The last year a card in the set was issued.
const LATEST_ISSUE: u32 = 2025;

/// The most common surnames, single characters (about 88), most common first.
const SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝";
/// Two-character surnames, drawn rarely.
const COMPOUND_SURNAMES: &[&str] = &["欧阳", "司马", "上官", "诸葛"];
/// Given-name characters, leaning male and leaning female (about 250 in all; some in both). A
/// holder's come from the other list now and then, as real names do.
const GIVEN_MALE: &str = "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林峰建国文志海亮东晨博阳兵成栋彬坤鸿振哲铭瑞翔睿轩泽昊然天豪锋毅诚忠义利庆福生荣贵祥永春胜金钢武松柏山川江河森家嘉子一航宏立新卫德光良力庭耀骏驰晓云达民安恒智远亚思雷勤俭元朝乐正彦恩旺兴盛鹤桐晖炜煜琦璋彪硕韬逸舟琛";
const GIVEN_FEMALE: &str = "芳娜敏静丽艳娟霞秀英玲桂婷雪慧莉萍红燕琳晶颖倩梅洁琴云兰凤玉珍蓉薇佳欣怡悦彤蕾露璐瑶妍婧菲琪瑾萱涵诗雨梦月楠丹妮媛娇珊茜蓓蕊菁青清爽真馨婉淑惠贞荷莲岚冰琼瑜翠春秋华美巧晓小思文嘉可心乐宁欢艺诺妙依一子若紫锦芸芝茹萌娅姗婕婵嫣霏雯璇琬钰曼纯蔚";
/// The minorities that appear, besides 汉.
const OTHER_ETHNICITIES: &[&str] = &["回", "满", "壮", "蒙古", "维吾尔", "苗", "土家"];

/// Real county-level regions: the code that opens a citizen number (GB/T 2260), the address's
/// province, city and district, and the police office that issues cards there.
const REGIONS: &[(&str, &str, &str)] = &[
    ("110101", "北京市东城区", "北京市公安局东城分局"),
    ("110102", "北京市西城区", "北京市公安局西城分局"),
    ("110105", "北京市朝阳区", "北京市公安局朝阳分局"),
    ("110108", "北京市海淀区", "北京市公安局海淀分局"),
    ("120101", "天津市和平区", "天津市公安局和平分局"),
    ("120103", "天津市河西区", "天津市公安局河西分局"),
    ("130102", "河北省石家庄市长安区", "石家庄市公安局长安分局"),
    ("140105", "山西省太原市小店区", "太原市公安局小店分局"),
    (
        "150102",
        "内蒙古自治区呼和浩特市新城区",
        "呼和浩特市公安局新城区分局",
    ),
    ("210102", "辽宁省沈阳市和平区", "沈阳市公安局和平分局"),
    ("220102", "吉林省长春市南关区", "长春市公安局南关分局"),
    ("230102", "黑龙江省哈尔滨市道里区", "哈尔滨市公安局道里分局"),
    ("310101", "上海市黄浦区", "上海市公安局黄浦分局"),
    ("310104", "上海市徐汇区", "上海市公安局徐汇分局"),
    ("310115", "上海市浦东新区", "上海市公安局浦东分局"),
    ("320102", "江苏省南京市玄武区", "南京市公安局玄武分局"),
    ("320106", "江苏省南京市鼓楼区", "南京市公安局鼓楼分局"),
    ("330102", "浙江省杭州市上城区", "杭州市公安局上城区分局"),
    ("330106", "浙江省杭州市西湖区", "杭州市公安局西湖区分局"),
    ("340104", "安徽省合肥市蜀山区", "合肥市公安局蜀山分局"),
    ("350102", "福建省福州市鼓楼区", "福州市公安局鼓楼分局"),
    ("350203", "福建省厦门市思明区", "厦门市公安局思明分局"),
    ("360102", "江西省南昌市东湖区", "南昌市公安局东湖分局"),
    ("370102", "山东省济南市历下区", "济南市公安局历下区分局"),
    ("370202", "山东省青岛市市南区", "青岛市公安局市南分局"),
    ("410105", "河南省郑州市金水区", "郑州市公安局金水分局"),
    ("420103", "湖北省武汉市江汉区", "武汉市公安局江汉区分局"),
    ("420106", "湖北省武汉市武昌区", "武汉市公安局武昌区分局"),
    ("430102", "湖南省长沙市芙蓉区", "长沙市公安局芙蓉分局"),
    ("430104", "湖南省长沙市岳麓区", "长沙市公安局岳麓分局"),
    ("440104", "广东省广州市越秀区", "广州市公安局越秀分局"),
    ("440106", "广东省广州市天河区", "广州市公安局天河分局"),
    ("440305", "广东省深圳市南山区", "深圳市公安局南山分局"),
    (
        "450103",
        "广西壮族自治区南宁市青秀区",
        "南宁市公安局青秀分局",
    ),
    ("460106", "海南省海口市龙华区", "海口市公安局龙华分局"),
    ("500103", "重庆市渝中区", "重庆市公安局渝中区分局"),
    ("510104", "四川省成都市锦江区", "成都市公安局锦江区分局"),
    ("510107", "四川省成都市武侯区", "成都市公安局武侯区分局"),
    ("520102", "贵州省贵阳市南明区", "贵阳市公安局南明分局"),
    ("530102", "云南省昆明市五华区", "昆明市公安局五华分局"),
    ("610103", "陕西省西安市碑林区", "西安市公安局碑林分局"),
    ("610113", "陕西省西安市雁塔区", "西安市公安局雁塔分局"),
    ("620102", "甘肃省兰州市城关区", "兰州市公安局城关分局"),
    (
        "640104",
        "宁夏回族自治区银川市兴庆区",
        "银川市公安局兴庆区分局",
    ),
    (
        "650102",
        "新疆维吾尔自治区乌鲁木齐市天山区",
        "乌鲁木齐市公安局天山区分局",
    ),
];

/// Street names, their kinds, subdistricts and housing estates for the rest of an address.
const STREETS: &[&str] = &[
    "中山",
    "人民",
    "解放",
    "建设",
    "和平",
    "文化",
    "新华",
    "光明",
    "胜利",
    "长江",
    "黄河",
    "朝阳",
    "东风",
    "青年",
    "复兴",
    "友谊",
    "振兴",
    "幸福",
    "学府",
    "科技",
    "滨江",
    "湖滨",
    "金沙",
    "花园",
    "迎宾",
    "民主",
    "团结",
    "健康",
    "体育",
    "工农",
    "红旗",
    "前进",
    "延安",
    "天山",
    "珠江",
    "松花江",
];
const STREET_KINDS: &[&str] = &[
    "路", "路", "街", "大道", "东路", "西路", "南路", "北路", "大街", "中路", "巷",
];
const SUBDISTRICTS: &[&str] = &[
    "新华", "城南", "东湖", "北关", "文昌", "府前", "长安", "滨湖",
];
const ESTATES: &[&str] = &[
    "阳光小区",
    "金色家园",
    "翠苑",
    "锦绣花园",
    "华府",
    "紫荆园",
    "丽景苑",
    "绿洲小区",
    "书香门第",
    "幸福里",
];

/// Which face of the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// 人像面: the holder's details, photo and number.
    Front,
    /// 国徽面: the emblem, the issuing office and the validity.
    Back,
}

/// What a card says: the truth a reader is scored against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdCard {
    /// Two or three characters: a surname and one or two given-name characters.
    pub name: String,
    /// 男 or 女.
    pub sex: &'static str,
    /// Mostly 汉.
    pub ethnicity: &'static str,
    /// Year (1960-2003), month, day.
    pub birth: (u32, u32, u32),
    /// Province, city, district, street and number, unwrapped (the card wraps it over 2-3
    /// lines).
    pub address: String,
    /// The 18-character citizen number (公民身份号码).
    pub number: String,
    /// 签发机关.
    pub authority: String,
    pub valid_from: (u32, u32, u32),
    /// `None` is 长期 (no end: issued at 46 or older).
    pub valid_until: Option<(u32, u32, u32)>,
}

impl IdCard {
    /// A plausible card. The number's region is where the holder was first registered; the
    /// address and the issuing office are usually the same region, sometimes another (the
    /// holder moved). About 15% of cards ended before `EXPIRY_LINE`.
    pub fn random(rng: &mut Rng) -> IdCard {
        let sex = *rng.pick::<&str>(&["男", "女"]);
        let name = random_name(sex, rng);
        let ethnicity = if rng.chance(0.85) {
            "汉"
        } else {
            *rng.pick(OTHER_ETHNICITIES)
        };
        let want_expired = rng.chance(0.15);
        // Draw holder and issue date together until the card is (not) expired as wanted: the
        // term follows from the age at issue (16-25: 10 years, 26-45: 20, 46 on: 长期).
        let (birth, valid_from, valid_until) = loop {
            let year = 1960 + (rng.next() % 44) as u32;
            let month = 1 + (rng.next() % 12) as u32;
            let day = 1 + (rng.next() % days_in(year, month) as u64) as u32;
            let earliest = 2005u32.max(year + 16);
            let from_year = earliest + (rng.next() % (LATEST_ISSUE - earliest + 1) as u64) as u32;
            // Days up to 28, so the end date exists in every year.
            let from = (
                from_year,
                1 + (rng.next() % 12) as u32,
                1 + (rng.next() % 28) as u32,
            );
            let age = age_at((year, month, day), from);
            if age < 16 {
                continue;
            }
            let until = match age {
                16..=25 => Some((from.0 + 10, from.1, from.2)),
                26..=45 => Some((from.0 + 20, from.1, from.2)),
                _ => None,
            };
            if until.is_some_and(|u| u < EXPIRY_LINE) == want_expired {
                break ((year, month, day), from, until);
            }
        };
        let origin = *rng.pick(REGIONS);
        let home = if rng.chance(0.8) {
            origin
        } else {
            *rng.pick(REGIONS)
        };
        // The sequence's last digit is odd for men, even for women.
        let parity = (rng.next() % 5) as u32 * 2 + u32::from(sex == "男");
        let first17 = format!(
            "{}{:04}{:02}{:02}{:02}{}",
            origin.0,
            birth.0,
            birth.1,
            birth.2,
            rng.next() % 100,
            parity
        );
        let number = format!("{first17}{}", check_character(&first17));
        IdCard {
            name,
            sex,
            ethnicity,
            birth,
            address: random_address(home.1, rng),
            number,
            authority: home.2.to_string(),
            valid_from,
            valid_until,
        }
    }

    /// 有效期限 as printed: `2016.05.12-2036.05.12`, or `2019.03.01-长期`.
    pub fn validity_text(&self) -> String {
        let date = |(y, m, d): (u32, u32, u32)| format!("{y:04}.{m:02}.{d:02}");
        match self.valid_until {
            Some(until) => format!("{}-{}", date(self.valid_from), date(until)),
            None => format!("{}-长期", date(self.valid_from)),
        }
    }
}

/// The check character of GB 11643-1999 for the first 17 digits of a citizen number: the
/// digits weighted by 2^(17-i) mod 11, the sum mod 11 mapped through `10X98765432`.
pub fn check_character(first17: &str) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    assert_eq!(first17.len(), 17, "a citizen number's first 17 digits");
    let sum: u32 = first17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).expect("17 digits") * w)
        .sum();
    b"10X98765432"[(sum % 11) as usize] as char
}

pub(super) fn days_in(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn age_at(birth: (u32, u32, u32), day: (u32, u32, u32)) -> u32 {
    let before_birthday = (day.1, day.2) < (birth.1, birth.2);
    (day.0 - birth.0).saturating_sub(u32::from(before_birthday))
}

fn nth_char(chars: &str, rng: &mut Rng) -> char {
    let count = chars.chars().count() as u64;
    chars
        .chars()
        .nth((rng.next() % count) as usize)
        .expect("in range")
}

/// A surname and one or two given-name characters; a two-character surname takes one, so a
/// name is always 2-3 characters.
pub(super) fn random_name(sex: &str, rng: &mut Rng) -> String {
    let (own, other) = if sex == "男" {
        (GIVEN_MALE, GIVEN_FEMALE)
    } else {
        (GIVEN_FEMALE, GIVEN_MALE)
    };
    let given = |rng: &mut Rng| nth_char(if rng.chance(0.85) { own } else { other }, rng);
    if rng.chance(0.03) {
        let mut name = rng.pick(COMPOUND_SURNAMES).to_string();
        name.push(given(rng));
        return name;
    }
    let mut name = nth_char(SURNAMES, rng).to_string();
    name.push(given(rng));
    if rng.chance(0.7) {
        name.push(given(rng));
    }
    name
}

/// How wide a string prints, in ems: ideographs are one em, Noto's Latin digits about 0.55.
fn ems(text: &str) -> f32 {
    text.chars()
        .map(|c| if c.is_ascii() { 0.555 } else { 1.0 })
        .sum()
}

/// `place` (province, city, district), sometimes a subdistrict, a street and a number, often a
/// building and flat. Kept between 13 and 28 ems so it prints over 2-3 lines of 11.
fn random_address(place: &str, rng: &mut Rng) -> String {
    loop {
        let mut address = place.to_string();
        if rng.chance(0.2) {
            address += *rng.pick(SUBDISTRICTS);
            address += "街道";
        }
        address += *rng.pick(STREETS);
        address += *rng.pick(STREET_KINDS);
        address += &format!("{}号", 1 + rng.next() % 300);
        let (building, unit) = (1 + rng.next() % 30, 1 + rng.next() % 6);
        let flat = (1 + rng.next() % 28) * 100 + 1 + rng.next() % 4;
        match rng.next() % 6 {
            0 => address += &format!("{building}栋{unit}单元{flat}"),
            1 => address += &format!("{building}号楼{unit}单元{flat}号"),
            2 => address += &format!("{building}幢{flat}室"),
            3 => address += &format!("{}{building}栋{flat}", rng.pick(ESTATES)),
            4 => address += &format!("{building}弄{unit}号{flat}室"),
            _ => {}
        }
        if (13.0..=28.0).contains(&ems(&address)) {
            return address;
        }
    }
}

/// Noto Sans CJK SC for the text and Noto Sans Mono CJK SC for the number, from the system's
/// collection (read once, kept for the run).
pub(super) struct Fonts {
    pub(super) sans: FontRef<'static>,
    pub(super) mono: FontRef<'static>,
}

pub(super) fn fonts() -> Fonts {
    static TTC: OnceLock<Vec<u8>> = OnceLock::new();
    let ttc: &'static [u8] = TTC.get_or_init(|| {
        std::fs::read(FONT_PATH).unwrap_or_else(|_| {
            panic!("the ID-card scenes need Debian's fonts-noto-cjk (scripts/test.sh installs it)")
        })
    });
    // Found by family name; the fallbacks are the indices in Debian's file (`fc-query` lists
    // JP, KR, SC, TC, HK, then the Mono faces in the same order).
    let face = |family: &str, fallback: u32| {
        let index = face_index(ttc, family).unwrap_or(fallback);
        let font = FontRef::try_from_slice_and_index(ttc, index).expect("Noto Sans CJK parses");
        assert_ne!(font.glyph_id('们').0, 0, "{family} lacks Chinese");
        font
    };
    Fonts {
        sans: face("Noto Sans CJK SC", 2),
        mono: face("Noto Sans Mono CJK SC", 7),
    }
}

/// The index in a TrueType collection of the face whose family (name ID 1, Windows platform)
/// is `family`. ab_glyph cannot read the name table, and the CJK faces differ only in their
/// regional glyph forms, so the table is read here: the `ttcf` header's face offsets, each
/// face's table directory, its `name` table's records and UTF-16BE strings.
fn face_index(ttc: &[u8], family: &str) -> Option<u32> {
    let u16_at = |at: usize| {
        ttc.get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
    };
    let u32_at = |at: usize| {
        ttc.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    if ttc.get(..4)? != b"ttcf" {
        return None;
    }
    let has_family = |face: usize| -> Option<bool> {
        let offset = u32_at(12 + 4 * face)?;
        let record = (0..u16_at(offset + 4)?)
            .map(|t| offset + 12 + 16 * t)
            .find(|&r| ttc.get(r..r + 4) == Some(&b"name"[..]))?;
        let table = u32_at(record + 8)?;
        let strings = table + u16_at(table + 4)?;
        Some(
            (0..u16_at(table + 2)?)
                .map(|r| table + 6 + 12 * r)
                .any(|r| {
                    let text = u16_at(r + 8)
                        .zip(u16_at(r + 10))
                        .and_then(|(len, off)| ttc.get(strings + off..strings + off + len));
                    u16_at(r) == Some(3)
                        && u16_at(r + 6) == Some(1)
                        && text.is_some_and(|bytes| {
                            let units: Vec<u16> = bytes
                                .chunks_exact(2)
                                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                                .collect();
                            String::from_utf16_lossy(&units) == family
                        })
                }),
        )
    };
    (0..u32_at(8)?)
        .find(|&face| has_family(face) == Some(true))
        .map(|face| face as u32)
}

/// ab_glyph scales by ascent-to-descent height, not by the em; Noto CJK's is 1.448 em.
fn px(font: &FontRef, em: f32) -> PxScale {
    PxScale::from(em * font.height_unscaled() / font.units_per_em().unwrap_or(1000.0))
}

pub(super) fn width(font: &FontRef, em: f32, text: &str) -> f32 {
    text_size(px(font, em), font, text).0 as f32
}

/// Writes `text` on `baseline` (an ideograph's em box runs from 0.88 em above it to 0.12 em
/// below); returns where the text ends.
pub(super) fn write(
    card: &mut RgbImage,
    font: &FontRef,
    x: f32,
    baseline: f32,
    em: f32,
    colour: [u8; 3],
    text: &str,
) -> f32 {
    let scale = px(font, em);
    let top = baseline - font.as_scaled(scale).ascent();
    draw_text_mut(
        card,
        Rgb(colour),
        x.round() as i32,
        top.round() as i32,
        scale,
        font,
        text,
    );
    x + width(font, em, text)
}

/// A two-character item name set wide (姓　名), as the card does; returns where it ends.
fn spaced(
    card: &mut RgbImage,
    font: &FontRef,
    x: f32,
    baseline: f32,
    colour: [u8; 3],
    text: &str,
) -> f32 {
    let mut end = x;
    for (i, c) in text.chars().enumerate() {
        end = write(
            card,
            font,
            x + i as f32 * 1.6 * LABEL_EM,
            baseline,
            LABEL_EM,
            colour,
            &c.to_string(),
        );
    }
    end
}

/// Breaks the address into lines no wider than `max`, anywhere between ideographs but never
/// inside a run of digits or letters (a house number stays whole).
pub(super) fn wrap(font: &FontRef, em: f32, text: &str, max: f32) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    for c in text.chars() {
        let joins = c.is_ascii_alphanumeric()
            && tokens
                .last()
                .is_some_and(|last| last.chars().all(|l| l.is_ascii_alphanumeric()));
        if joins {
            tokens.last_mut().expect("a token to join").push(c);
        } else {
            tokens.push(c.to_string());
        }
    }
    let mut lines = vec![String::new()];
    for token in tokens {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && width(font, em, &format!("{line}{token}")) > max {
            lines.push(token);
        } else {
            line.push_str(&token);
        }
    }
    lines
}

/// A per-card seed for the renderer's own choices (ground, colours, face), so a card renders
/// the same every time: FNV-1a over the number, salted by the side.
fn card_rng(card: &IdCard, side: u64) -> Rng {
    let hash = card.number.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    Rng::new(hash ^ side)
}

/// The card's printed ground, never plain white: pale blue shading into beige across the
/// middle, two crossing families of fine wavy lines (the guilloche) and the broad faint waves
/// `render()` gives its cards.
fn ground(rng: &mut Rng) -> RgbImage {
    let blue = [
        rng.range(222.0, 232.0),
        rng.range(231.0, 239.0),
        rng.range(239.0, 247.0),
    ];
    let beige = [
        rng.range(238.0, 246.0),
        rng.range(231.0, 238.0),
        rng.range(216.0, 226.0),
    ];
    // The lines print blue-grey: they take more red than blue away.
    let tint = [16.0f32, 10.0, 5.0];
    let strength = rng.range(0.6, 1.0);
    let (p0, p1, p2) = (
        rng.range(0.0, 6.3),
        rng.range(0.0, 6.3),
        rng.range(0.0, 6.3),
    );
    let (period1, period2) = (rng.range(9.0, 14.0), rng.range(11.0, 16.0));
    let (amp1, amp2) = (rng.range(8.0, 20.0), rng.range(8.0, 20.0));
    let (k1, k2) = (rng.range(0.004, 0.01), rng.range(0.004, 0.01));
    // 1 on a line, falling to 0 within a pixel or two of it.
    let crest = |s: f32, period: f32| {
        let d = (s - s.round()).abs() * period;
        (-d * d / 0.8).exp()
    };
    RgbImage::from_fn(W, H, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        let (u, v) = (xf / W as f32, yf / H as f32);
        let t = (0.5 + 0.5 * (u * 2.4 - v * 1.1 + p0).sin()).powf(1.5);
        let lines = crest(
            (yf + 0.3 * xf + amp1 * (xf * k1 + p1).sin()) / period1,
            period1,
        ) + crest(
            (xf - 0.5 * yf + amp2 * (yf * k2 + p2).sin()) / period2,
            period2,
        );
        let broad = (xf * 0.025 + (yf * 0.015).sin() * 3.0).sin() * 3.0;
        Rgb(std::array::from_fn(|c| {
            (blue[c] + (beige[c] - blue[c]) * t - lines * strength * tint[c] + broad)
                .clamp(0.0, 255.0) as u8
        }))
    })
}

/// Item names print in a blue-grey, entries in near-black; both vary a little card to card.
fn inks(rng: &mut Rng) -> ([u8; 3], [u8; 3]) {
    let label = [
        rng.range(45.0, 80.0) as u8,
        rng.range(95.0, 125.0) as u8,
        rng.range(140.0, 170.0) as u8,
    ];
    let k = rng.range(15.0, 35.0) as u8;
    (label, [k, k, k + 4])
}

/// The holder's photo as the card prints it: head and shoulders on a pale ground that fades
/// into the card's pattern at its edges (the card has no frame round it).
fn portrait(card: &mut RgbImage, x0: u32, y0: u32, w: u32, h: u32, sex: &str, rng: &mut Rng) {
    let g = rng.range(228.0, 240.0) as u8;
    let photo = head_and_shoulders(w, h, Rgb([g - 4, g - 1, g]), sex, rng);
    // Printed photos are soft; then laid into the card, fading out over its last pixels.
    let photo = imageproc::filter::gaussian_blur_f32(&photo, 1.5);
    let feather = 24.0;
    for (x, y, p) in photo.enumerate_pixels() {
        let edge = (x.min(w - 1 - x).min(y).min(h - 1 - y)) as f32;
        let alpha = (edge / feather).min(1.0) * 0.93;
        let q = card.get_pixel_mut(x0 + x, y0 + y);
        for c in 0..3 {
            q[c] = (q[c] as f32 * (1.0 - alpha) + p[c] as f32 * alpha) as u8;
        }
    }
}

/// A `w` x `h` photo of a head and shoulders on `ground`, drawn sharp (the caller softens it
/// as its print would be): skin, hair, clothes and the face's place drawn from `rng`, long hair
/// for most women. Shared with the diploma's photo, which has its own ground and edges.
pub(super) fn head_and_shoulders(
    w: u32,
    h: u32,
    ground: Rgb<u8>,
    sex: &str,
    rng: &mut Rng,
) -> RgbImage {
    let mut photo = RgbImage::from_pixel(w, h, ground);
    let (wf, hf) = (w as f32, h as f32);
    let at = |fx: f32, fy: f32| ((fx * wf) as i32, (fy * hf) as i32);
    let len = |f: f32| (f * wf) as i32;
    let lenh = |f: f32| (f * hf) as i32;
    let cx = 0.5 + rng.range(-0.03, 0.03);
    let skin = [
        rng.range(200.0, 235.0),
        rng.range(160.0, 195.0),
        rng.range(130.0, 165.0),
    ];
    let shade = Rgb(skin.map(|c| (c * 0.85) as u8));
    let skin = Rgb(skin.map(|c| c as u8));
    let hair = Rgb([
        rng.range(20.0, 50.0) as u8,
        rng.range(18.0, 40.0) as u8,
        rng.range(15.0, 35.0) as u8,
    ]);
    let clothes = Rgb(*rng.pick(&[
        [30u8, 40, 70],
        [25, 25, 30],
        [90, 90, 96],
        [225, 225, 228],
        [120, 40, 45],
    ]));
    if sex == "女" && rng.chance(0.7) {
        // Long hair, behind the head and down to the shoulders.
        draw_filled_ellipse_mut(&mut photo, at(cx, 0.5), len(0.28), lenh(0.34), hair);
    }
    draw_filled_ellipse_mut(&mut photo, at(cx, 1.02), len(0.47), lenh(0.3), clothes);
    draw_filled_rect_mut(
        &mut photo,
        Rect::at(at(cx - 0.08, 0.55).0, at(cx, 0.55).1).of_size(len(0.16) as u32, lenh(0.2) as u32),
        shade,
    );
    draw_filled_ellipse_mut(&mut photo, at(cx, 0.36), len(0.245), lenh(0.26), hair);
    for side in [-1.0, 1.0] {
        draw_filled_ellipse_mut(
            &mut photo,
            at(cx + side * 0.205, 0.45),
            len(0.035),
            lenh(0.06),
            shade,
        );
    }
    draw_filled_ellipse_mut(&mut photo, at(cx, 0.45), len(0.195), lenh(0.24), skin);
    // The fringe over the forehead.
    draw_filled_ellipse_mut(&mut photo, at(cx, 0.27), len(0.2), lenh(0.09), hair);
    for side in [-1.0, 1.0] {
        let eye = cx + side * 0.075;
        draw_filled_rect_mut(
            &mut photo,
            Rect::at(at(eye - 0.04, 0.395).0, at(eye, 0.395).1).of_size(len(0.08) as u32, 5),
            hair,
        );
        draw_filled_ellipse_mut(
            &mut photo,
            at(eye, 0.43),
            len(0.026),
            lenh(0.011),
            Rgb([35, 30, 30]),
        );
    }
    draw_filled_ellipse_mut(&mut photo, at(cx, 0.5), len(0.022), lenh(0.025), shade);
    draw_filled_ellipse_mut(
        &mut photo,
        at(cx, 0.575),
        len(0.05),
        lenh(0.011),
        Rgb([170, 90, 90]),
    );
    photo
}

/// The front (人像面): item names at the left in blue-grey, the entries in black, the photo at
/// the right and the number along the bottom, where the second-generation card has them.
pub fn render_front(card: &IdCard) -> RgbImage {
    let mut rng = card_rng(card, 1);
    let Fonts { sans, mono } = fonts();
    let (w, h) = (W as f32, H as f32);
    let mut image = ground(&mut rng);
    let (label, ink) = inks(&mut rng);
    // Rows are placed by the top of the item name; an item's entry shares its baseline.
    let row = |top: f32| top * h + 0.88 * LABEL_EM;
    let (label_x, value_x) = (0.06 * w, 0.175 * w);

    spaced(&mut image, &sans, label_x, row(0.10), label, "姓名");
    write(
        &mut image,
        &sans,
        value_x,
        row(0.10),
        NAME_EM,
        ink,
        &card.name,
    );

    spaced(&mut image, &sans, label_x, row(0.23), label, "性别");
    write(
        &mut image,
        &sans,
        value_x,
        row(0.23),
        VALUE_EM,
        ink,
        card.sex,
    );
    let end = spaced(&mut image, &sans, 0.30 * w, row(0.23), label, "民族");
    write(
        &mut image,
        &sans,
        end + 0.6 * VALUE_EM,
        row(0.23),
        VALUE_EM,
        ink,
        card.ethnicity,
    );

    // 出生: digits in black, 年/月/日 as item names; month and day sit right-aligned in
    // two-digit slots, so 年, 月 and 日 stand where they do on every card.
    spaced(&mut image, &sans, label_x, row(0.36), label, "出生");
    let (year, month, day) = card.birth;
    let base = row(0.36);
    let gap = 0.3 * VALUE_EM;
    let slot = width(&sans, VALUE_EM, "00");
    let mut x = write(
        &mut image,
        &sans,
        value_x,
        base,
        VALUE_EM,
        ink,
        &year.to_string(),
    ) + gap;
    x = write(&mut image, &sans, x, base, LABEL_EM, label, "年") + gap;
    for (number, unit) in [(month, "月"), (day, "日")] {
        let digits = number.to_string();
        let right = x + slot - width(&sans, VALUE_EM, &digits);
        write(&mut image, &sans, right, base, VALUE_EM, ink, &digits);
        x = write(
            &mut image,
            &sans,
            x + slot + gap,
            base,
            LABEL_EM,
            label,
            unit,
        ) + gap;
    }

    spaced(&mut image, &sans, label_x, row(0.49), label, "住址");
    // 11 ideographs a line (the +2 allows for text_size's rounding).
    let lines = wrap(&sans, VALUE_EM, &card.address, 11.0 * VALUE_EM + 2.0);
    for (i, line) in lines.iter().enumerate() {
        let baseline = row(0.49) + i as f32 * 0.075 * h;
        write(&mut image, &sans, value_x, baseline, VALUE_EM, ink, line);
    }

    // The number: monospaced, each character centred in one of 18 equal cells across
    // 0.33-0.93 of the card, on the baseline of its item name.
    write(
        &mut image,
        &sans,
        label_x,
        row(0.80),
        LABEL_EM,
        label,
        "公民身份号码",
    );
    let (left, right) = (0.33 * w, 0.93 * w);
    let cell = (right - left) / 18.0;
    for (i, c) in card.number.chars().enumerate() {
        let c = c.to_string();
        let x = left + i as f32 * cell + (cell - width(&mono, NUMBER_EM, &c)) / 2.0;
        write(&mut image, &mono, x, row(0.80), NUMBER_EM, ink, &c);
    }

    portrait(
        &mut image,
        (0.62 * w) as u32,
        (0.10 * h) as u32,
        (0.30 * w) as u32,
        (0.62 * h) as u32,
        card.sex,
        &mut rng,
    );
    image
}

/// A five-pointed star, point up.
fn star(image: &mut RgbImage, cx: f32, cy: f32, r: f32, colour: [u8; 3]) {
    let points: Vec<Point<i32>> = (0..10)
        .map(|k| {
            let radius = if k % 2 == 0 { r } else { r * 0.382 };
            let a = (-90.0 + 36.0 * k as f32).to_radians();
            Point::new(
                (cx + radius * a.cos()).round() as i32,
                (cy + radius * a.sin()).round() as i32,
            )
        })
        .collect();
    draw_polygon_mut(image, &points, Rgb(colour));
}

/// The national emblem, simplified but recognisable at a glance: a ring of gold wheat round a
/// red field, the big star with four small ones, Tiananmen's gate and the gear below.
fn emblem(image: &mut RgbImage, cx: f32, cy: f32, r: f32) {
    let red = [200u8, 36, 40];
    let gold = [222u8, 178, 70];
    let dark_gold = [185u8, 135, 45];
    for y in (cy - r) as u32..=(cy + r) as u32 {
        for x in (cx - r) as u32..=(cx + r) as u32 {
            let (dx, dy) = (x as f32 - cx, y as f32 - cy);
            let d = dx.hypot(dy);
            if d > r {
                continue;
            }
            let colour = if d > 0.8 * r {
                // Grains of wheat: a checker in angle and radius round the ring.
                let a = dy.atan2(dx);
                if (a * 36.0).sin() * (d / r * 60.0).sin() > 0.0 {
                    gold
                } else {
                    dark_gold
                }
            } else {
                red
            };
            let alpha = (r - d).clamp(0.0, 1.0);
            let p = image.get_pixel_mut(x, y);
            for c in 0..3 {
                p[c] = (p[c] as f32 * (1.0 - alpha) + colour[c] as f32 * alpha) as u8;
            }
        }
    }
    star(image, cx, cy - 0.45 * r, 0.17 * r, gold);
    for (dx, dy) in [(-0.36, -0.3), (-0.24, -0.52), (0.24, -0.52), (0.36, -0.3)] {
        star(image, cx + dx * r, cy + dy * r, 0.065 * r, gold);
    }
    let rect = |image: &mut RgbImage, x0: f32, y0: f32, x1: f32, y1: f32, colour: [u8; 3]| {
        draw_filled_rect_mut(
            image,
            Rect::at((cx + x0 * r) as i32, (cy + y0 * r) as i32)
                .of_size(((x1 - x0) * r) as u32, ((y1 - y0) * r) as u32),
            Rgb(colour),
        );
    };
    // The gate: roof, hall, terrace with five doors.
    let roof = [(-0.42, -0.04), (0.42, -0.04), (0.3, -0.16), (-0.3, -0.16)]
        .map(|(x, y)| Point::new((cx + x * r) as i32, (cy + y * r) as i32));
    draw_polygon_mut(image, &roof, Rgb(gold));
    rect(image, -0.32, -0.04, 0.32, 0.12, gold);
    rect(image, -0.45, 0.12, 0.45, 0.34, gold);
    for k in -2..=2 {
        let x = k as f32 * 0.15;
        rect(image, x - 0.03, 0.2, x + 0.03, 0.34, red);
    }
    // The gear at the foot of the ring.
    draw_filled_ellipse_mut(
        image,
        (cx as i32, (cy + 0.8 * r) as i32),
        (0.15 * r) as i32,
        (0.15 * r) as i32,
        Rgb(gold),
    );
    draw_filled_ellipse_mut(
        image,
        (cx as i32, (cy + 0.8 * r) as i32),
        (0.06 * r) as i32,
        (0.06 * r) as i32,
        Rgb(red),
    );
}

/// The Great Wall across the back's middle, printed faint: a ridge of hills with the wall's
/// battlements along it (a reader meets a busy band between the title and the entries).
fn great_wall(image: &mut RgbImage, rng: &mut Rng) {
    let (w, h) = (W as f32, H as f32);
    let (p, q) = (rng.range(0.0, 6.3), rng.range(0.0, 6.3));
    let tint = [14.0f32, 9.0, 4.0];
    for x in 0..W {
        let u = x as f32 / w;
        let ridge = h * (0.53 + 0.04 * (u * 4.0 + p).sin() + 0.015 * (u * 11.0 + q).sin());
        let merlon = (x / 18) % 2 == 0;
        let top = ridge - if merlon { 0.035 * h } else { 0.022 * h };
        for y in top as u32..(ridge + 0.1 * h) as u32 {
            let below = y as f32 - ridge;
            let k = if below < 0.0 {
                1.0
            } else {
                0.5 * (1.0 - below / (0.1 * h))
            };
            let pixel = image.get_pixel_mut(x, y);
            for c in 0..3 {
                pixel[c] = (pixel[c] as f32 - tint[c] * k).max(0.0) as u8;
            }
        }
    }
}

/// The back (国徽面): the emblem at the top left, 中华人民共和国 and 居民身份证 large beside it,
/// then 签发机关 and 有效期限 with their entries low on the card.
pub fn render_back(card: &IdCard) -> RgbImage {
    let mut rng = card_rng(card, 2);
    let Fonts { sans, .. } = fonts();
    let (w, h) = (W as f32, H as f32);
    let mut image = ground(&mut rng);
    let (label, ink) = inks(&mut rng);
    great_wall(&mut image, &mut rng);
    emblem(&mut image, 0.145 * w, 0.22 * h, 0.13 * h);

    // The titles, letter-spaced and centred on 0.59 of the width.
    for (text, em, pitch, top) in [
        ("中华人民共和国", 86.0, 1.18, 0.10),
        ("居民身份证", 150.0, 1.3, 0.25),
    ] {
        let count = text.chars().count() as f32;
        let left = 0.59 * w - ((count - 1.0) * pitch * em + em) / 2.0;
        for (i, c) in text.chars().enumerate() {
            let x = left + i as f32 * pitch * em;
            write(
                &mut image,
                &sans,
                x,
                top * h + 0.88 * em,
                em,
                ink,
                &c.to_string(),
            );
        }
    }

    let row = |top: f32| top * h + 0.88 * LABEL_EM;
    write(
        &mut image,
        &sans,
        0.22 * w,
        row(0.70),
        LABEL_EM,
        label,
        "签发机关",
    );
    write(
        &mut image,
        &sans,
        0.40 * w,
        row(0.70),
        VALUE_EM,
        ink,
        &card.authority,
    );
    write(
        &mut image,
        &sans,
        0.22 * w,
        row(0.82),
        LABEL_EM,
        label,
        "有效期限",
    );
    write(
        &mut image,
        &sans,
        0.40 * w,
        row(0.82),
        VALUE_EM,
        ink,
        &card.validity_text(),
    );
    image
}

/// A photo of one side of a card and its truth.
pub struct IdPhoto {
    /// The JPEG as the phone stored it (EXIF orientation 1, 6 or 8).
    pub jpeg: Vec<u8>,
    pub card: IdCard,
    pub side: Side,
    /// The card's top-left, top-right, bottom-right, bottom-left in pixels of the upright frame
    /// (EXIF applied), like `Scene::corners`.
    pub corners: [(f32, f32); 4],
}

/// A card's reflection of a lamp or window on its laminate: a soft bright ellipse, added
/// towards white, defined on the card (so it follows the perspective) and only on it. Its
/// peak stays below what would wash black text out.
fn glare(frame: &mut RgbImage, corners: [(f32, f32); 4], rng: &mut Rng) {
    let (dw, dh) = (W as f32, H as f32);
    let Some(to_card) =
        Projection::from_control_points(corners, [(0.0, 0.0), (dw, 0.0), (dw, dh), (0.0, dh)])
    else {
        return;
    };
    let (gx, gy) = (rng.range(0.1, 0.9) * dw, rng.range(0.1, 0.9) * dh);
    let major = rng.range(0.05, 0.10) * dw;
    let minor = major * rng.range(0.35, 1.0);
    let (s, c) = rng.range(0.0, std::f32::consts::PI).sin_cos();
    let peak = rng.range(60.0, 140.0);
    let xs = corners.map(|p| p.0);
    let ys = corners.map(|p| p.1);
    let clamp = |v: f32, max: u32| v.clamp(0.0, max as f32) as u32;
    let (x0, x1) = (
        clamp(xs.iter().copied().fold(f32::MAX, f32::min), frame.width()),
        clamp(
            xs.iter().copied().fold(f32::MIN, f32::max) + 1.0,
            frame.width(),
        ),
    );
    let (y0, y1) = (
        clamp(ys.iter().copied().fold(f32::MAX, f32::min), frame.height()),
        clamp(
            ys.iter().copied().fold(f32::MIN, f32::max) + 1.0,
            frame.height(),
        ),
    );
    for y in y0..y1 {
        for x in x0..x1 {
            let (u, v) = to_card * (x as f32 + 0.5, y as f32 + 0.5);
            if !(0.0..dw).contains(&u) || !(0.0..dh).contains(&v) {
                continue;
            }
            let (du, dv) = (u - gx, v - gy);
            let (a, b) = (du * c + dv * s, dv * c - du * s);
            let g = (-0.5 * ((a / major).powi(2) + (b / minor).powi(2))).exp();
            if g < 1e-3 {
                continue;
            }
            let p = frame.get_pixel_mut(x, y);
            for ch in 0..3 {
                p[ch] = (p[ch] as f32 + peak * g).min(255.0) as u8;
            }
        }
    }
}

/// A phone's white balance is never quite neutral: warm under room light, cool by a window.
fn white_balance(frame: &mut RgbImage, rng: &mut Rng) {
    let warm = rng.range(-0.06, 0.06);
    let k = [1.0 + warm, 1.0, 1.0 - warm];
    for p in frame.pixels_mut() {
        for c in 0..3 {
            p[c] = (p[c] as f32 * k[c]).min(255.0) as u8;
        }
    }
}

/// A phone photo of one side of a random card, deterministic from `seed`: the card on a desk
/// (12 MP, landscape mostly, sometimes portrait), covering 10-35% of the frame, tilted up to
/// 15° with a little perspective, then light, sometimes glare, blur, noise and JPEG, placed
/// the way `super::scene` places a document.
pub fn id_photo(seed: u64, side: Side) -> IdPhoto {
    let mut rng = Rng::new(seed);
    let card = IdCard::random(&mut rng);
    photograph(card, rng, side)
}

/// `card` photographed as `id_photo` does, the scene drawn from `seed` (for a holder the test
/// chose, e.g. one on the roster).
pub fn photo_of(card: &IdCard, seed: u64, side: Side) -> IdPhoto {
    photograph(card.clone(), Rng::new(seed), side)
}

fn photograph(card: IdCard, rng: Rng, side: Side) -> IdPhoto {
    let flat = match side {
        Side::Front => render_front(&card),
        Side::Back => render_back(&card),
    };
    let shot = Shot {
        area: (0.10, 0.35),
        tilt: 15.0,
        blur: (0.3, 1.5),
        glare: 0.4,
    };
    let (jpeg, corners) = photograph_flat(flat, rng, &shot);
    IdPhoto {
        jpeg,
        card,
        side,
        corners,
    }
}

/// How a phone photo of a flat document is drawn: the ranges `photograph_flat` draws from.
pub(super) struct Shot {
    /// The fraction of the frame's area the document covers, before it is shrunk to fit.
    pub(super) area: (f32, f32),
    /// The largest tilt either way, in degrees.
    pub(super) tilt: f32,
    /// The range of the lens blur's sigma, in pixels.
    pub(super) blur: (f32, f32),
    /// The chance of a glare spot.
    pub(super) glare: f32,
}

/// A phone photo of `flat`, the scene drawn from `rng` within `shot`: the JPEG as stored and
/// where the document's corners landed in the upright frame. The ID card's photos and the
/// diploma's share it, so both are photographed the same way. The glare spot is placed in the
/// card's coordinates (`W` x `H`) mapped onto the document's corners: on a page of another
/// shape it is the same soft spot, a little stretched.
pub(super) fn photograph_flat(
    flat: RgbImage,
    mut rng: Rng,
    shot: &Shot,
) -> (Vec<u8>, [(f32, f32); 4]) {
    let (fw, fh) = *rng.pick(&[
        (4032u32, 3024u32),
        (4032, 3024),
        (4032, 3024),
        (3024, 4032),
        (3024, 4032),
        (4000, 3000),
    ]);
    let mut frame = desk(fw, fh, &mut rng);
    let (dw, dh) = (flat.width() as f32, flat.height() as f32);
    let area = rng.range(shot.area.0, shot.area.1);
    let (s, c) = rng.range(-shot.tilt, shot.tilt).to_radians().sin_cos();
    let perspective = rng.range(0.0, 0.08);

    // As scene(): size from the area, a tilt about the centre and each corner pushed by up to
    // `perspective` of the document's size; smaller if that does not fit inside a 3% margin.
    let mut scale = (area * fw as f32 * fh as f32 / (dw * dh)).sqrt();
    let jitter: [(f32, f32); 4] = std::array::from_fn(|_| {
        (
            rng.range(-perspective, perspective),
            rng.range(-perspective, perspective),
        )
    });
    let place = |scale: f32| placed(dw, dh, scale, &jitter, (s, c));
    let pad = 0.03 * fw.min(fh) as f32;
    let (min_x, max_x, min_y, max_y) = extent(&place(scale));
    let fit =
        ((fw as f32 - 2.0 * pad) / (max_x - min_x)).min((fh as f32 - 2.0 * pad) / (max_y - min_y));
    scale *= fit.min(1.0);
    let mut corners = place(scale);
    let (min_x, max_x, min_y, max_y) = extent(&corners);
    let cx = rng.range(
        pad - min_x,
        (fw as f32 - pad - max_x).max(pad - min_x + 1.0),
    );
    let cy = rng.range(
        pad - min_y,
        (fh as f32 - pad - max_y).max(pad - min_y + 1.0),
    );
    for p in corners.iter_mut() {
        p.0 += cx;
        p.1 += cy;
    }

    // Shrinking samples the card sparsely: soften it first, as the lens would, so the fine
    // guilloche does not alias into patterns no camera makes.
    let flat = if scale < 0.95 {
        imageproc::filter::gaussian_blur_f32(&flat, 0.5 / scale)
    } else {
        flat
    };
    composite(&mut frame, &flat, corners);
    white_balance(&mut frame, &mut rng);
    light(&mut frame, &mut rng);
    if rng.chance(shot.glare) {
        glare(&mut frame, corners, &mut rng);
    }
    let blur = rng.range(shot.blur.0, shot.blur.1);
    let mut frame = imageproc::filter::gaussian_blur_f32(&frame, blur);
    noise(&mut frame, &mut rng);
    // Stored as the sensor saw it, turned against the EXIF tag that rights it (as scene()).
    let orientation = *rng.pick(&[1u16, 1, 1, 1, 1, 1, 6, 8]);
    let stored = match orientation {
        6 => image::imageops::rotate270(&frame),
        8 => image::imageops::rotate90(&frame),
        _ => frame,
    };
    let quality = 80 + (rng.next() % 13) as i32;
    (
        jpeg_with_orientation(&stored, quality, orientation),
        corners,
    )
}

#[test]
fn check_character_follows_gb_11643() {
    // The standard's own example.
    assert_eq!(check_character("11010519491231002"), 'X');
    let mut rng = Rng::new(7);
    let cards: Vec<IdCard> = (0..400).map(|_| IdCard::random(&mut rng)).collect();
    for card in &cards {
        let (first17, last) = card.number.split_at(17);
        assert_eq!(last.chars().next(), Some(check_character(first17)));
        let (y, m, d) = card.birth;
        assert_eq!(&first17[6..14], format!("{y:04}{m:02}{d:02}"));
        let odd = first17.as_bytes()[16] % 2 == 1;
        assert_eq!(odd, card.sex == "男", "{}", card.number);
        assert!(
            (2..=3).contains(&card.name.chars().count()),
            "{}",
            card.name
        );
    }
    let expired = cards
        .iter()
        .filter(|c| c.valid_until.is_some_and(|u| u < EXPIRY_LINE))
        .count();
    assert!((30..=90).contains(&expired), "{expired} of 400 expired");
}
