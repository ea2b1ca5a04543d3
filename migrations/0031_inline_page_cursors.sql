-- 0027 for the page cursors of 0023: their bodies are STABLE (extract and
-- timestamptz + interval), their declarations IMMUTABLE, so each call ran
-- as a function of its own. Declared as what they are, they are inlined.
ALTER FUNCTION ztp_page_cursor(timestamptz, uuid) STABLE;
ALTER FUNCTION ztp_page_cursor_at(text) STABLE;
