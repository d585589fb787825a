"""Guangzhou's eleven districts (SPEC §2). Data, not code: another city replaces these rows."""

from django.db import migrations

DISTRICTS = [
    ("yuexiu", "越秀区", "Yuexiu"),
    ("haizhu", "海珠区", "Haizhu"),
    ("liwan", "荔湾区", "Liwan"),
    ("tianhe", "天河区", "Tianhe"),
    ("baiyun", "白云区", "Baiyun"),
    ("huangpu", "黄埔区", "Huangpu"),
    ("panyu", "番禺区", "Panyu"),
    ("huadu", "花都区", "Huadu"),
    ("nansha", "南沙区", "Nansha"),
    ("conghua", "从化区", "Conghua"),
    ("zengcheng", "增城区", "Zengcheng"),
]


def add(apps, schema_editor):
    District = apps.get_model("facilities", "District")
    for code, name_zh, name_en in DISTRICTS:
        District.objects.update_or_create(code=code, defaults={"name_zh": name_zh, "name_en": name_en})


def remove(apps, schema_editor):
    District = apps.get_model("facilities", "District")
    District.objects.filter(code__in=[code for code, _, _ in DISTRICTS], facilities__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("facilities", "0001_initial")]
    operations = [migrations.RunPython(add, remove)]
