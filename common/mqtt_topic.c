/*
 * MQTT text rules: UTF-8 Encoded Strings (spec 1.5.4), topic names and
 * topic filters (4.7), and shared subscriptions (v5 4.8.2).
 */
#include <string.h>

#include "mqtt.h"

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN (sizeof(SHARE_PREFIX) - 1)

bool
mqtt_utf8_valid(const uint8_t *s, size_t len)
{
	size_t i = 0, need, k;
	uint8_t c, lo, hi;

	while (i < len) {
		c = s[i];
		if (c == 0)
			return false; /* [MQTT-1.5.4-2] no U+0000 */
		if (c < 0x80) {
			i++;
			continue;
		}
		/*
		 * The second byte's range carries all the special cases
		 * (RFC 3629 table): it excludes overlong forms (C0, C1, E0
		 * 80..9F, F0 80..8F), surrogates (ED A0..BF, [MQTT-1.5.4-1])
		 * and code points past U+10FFFF (F4 90.., F5..FF).
		 */
		lo = 0x80;
		hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return false;
		}
		if (len - i - 1 < need)
			return false; /* truncated sequence */
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (k = 2; k <= need; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += need + 1;
	}
	return true;
}

bool
mqtt_topic_name_valid(const uint8_t *s, size_t len)
{
	/* [MQTT-4.7.3-1] non-empty; [MQTT-3.3.2-2] no wildcards. */
	if (len == 0 || memchr(s, '+', len) != NULL ||
	    memchr(s, '#', len) != NULL)
		return false;
	return mqtt_utf8_valid(s, len);
}

/*
 * The level rules alone: non-empty, '+' and '#' fill whole levels, '#' only
 * as the last one ([MQTT-4.7.1-1], [MQTT-4.7.1-2]).
 */
static bool
filter_levels_valid(const uint8_t *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] != '+' && s[i] != '#')
			continue;
		if (i > 0 && s[i - 1] != '/')
			return false;
		if (s[i] == '#' && i + 1 != len)
			return false;
		if (s[i] == '+' && i + 1 < len && s[i + 1] != '/')
			return false;
	}
	return true;
}

bool
mqtt_topic_filter_valid_v311(const uint8_t *s, size_t len)
{
	return filter_levels_valid(s, len) && mqtt_utf8_valid(s, len);
}

bool
mqtt_topic_filter_valid(const uint8_t *s, size_t len)
{
	const uint8_t *name, *slash;
	size_t rest;

	if (!mqtt_utf8_valid(s, len))
		return false;
	if (len < SHARE_PREFIX_LEN ||
	    memcmp(s, SHARE_PREFIX, SHARE_PREFIX_LEN) != 0)
		return filter_levels_valid(s, len);

	/* $share/{ShareName}/{filter} [MQTT-4.8.2-1], [MQTT-4.8.2-2] */
	name = s + SHARE_PREFIX_LEN;
	rest = len - SHARE_PREFIX_LEN;
	slash = memchr(name, '/', rest);
	if (slash == NULL || slash == name)
		return false;
	if (memchr(name, '+', (size_t)(slash - name)) != NULL ||
	    memchr(name, '#', (size_t)(slash - name)) != NULL)
		return false;
	rest -= (size_t)(slash - name) + 1;
	return filter_levels_valid(slash + 1, rest);
}
