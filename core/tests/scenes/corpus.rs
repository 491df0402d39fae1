//! What the generated documents say: the words of real ones (毕业证书, 学位证书, 医师执业证书,
//! 工作证明, 居民身份证), with made-up names and numbers.

pub const NAMES: &[&str] = &[
    "张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄海", "周杰", "吴霞",
];
pub const SCHOOLS: &[&str] = &[
    "北京医科大学",
    "华东医学院",
    "南方医科大学",
    "西部卫生学院",
    "中山医学院",
];
pub const MAJORS: &[&str] = &["临床医学", "口腔医学", "预防医学", "中医学", "护理学"];
pub const HOSPITALS: &[&str] = &[
    "市第一人民医院",
    "县中医院",
    "区妇幼保健院",
    "市中心医院",
    "社区卫生服务中心",
];
pub const PLACES: &[&str] = &[
    "北京市东城区东长安街十号",
    "上海市黄浦区中山东一路八号",
    "广东省广州市越秀区中山二路",
    "四川省成都市武侯区人民南路",
    "湖北省武汉市江汉区解放大道",
];

pub const DIPLOMA_BODY: &[&str] = &[
    "学生{name}，性别{sex}，一九九八年五月十二日生，",
    "于二〇一六年九月至二〇二一年七月在本校{major}专业",
    "五年制本科学习，修完教学计划规定的全部课程，",
    "成绩合格，准予毕业。",
];
pub const DEGREE_BODY: &[&str] = &[
    "{name}，{sex}，一九九八年五月十二日生。在{school}",
    "{major}专业完成了本科学习计划，业已毕业。",
    "经审核符合《中华人民共和国学位条例》的规定，",
    "授予医学学士学位。",
];
pub const WORK_BODY: &[&str] = &[
    "兹证明{name}同志，性别{sex}，身份证号码{id}，",
    "自二〇二一年八月起在我单位{hospital}从事临床工作，",
    "在上级医师指导下参加医疗实践，累计满一年，",
    "工作表现良好，无违法违纪行为。",
    "特此证明。",
];
pub const PRACTICE_BODY: &[&str] = &[
    "姓名：{name}",
    "性别：{sex}",
    "执业类别：临床",
    "执业范围：内科专业",
    "执业地点：{hospital}",
    "发证机关：{place}卫生健康委员会",
];
