# Issue 15: one date format per language on every page and in every message (the GOV.UK style,
# "4 March 2026"); time on the 24-hour clock, as the Chinese pages. Read through FORMAT_MODULE_PATH;
# input formats stay Django's.
DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
YEAR_MONTH_FORMAT = "F Y"
MONTH_DAY_FORMAT = "j F"
TIME_FORMAT = "H:i"
