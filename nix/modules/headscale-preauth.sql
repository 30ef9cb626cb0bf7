-- Registers hearth's pre-generated preauth key with Headscale 0.23 (which has no command to
-- import a key): Headscale validates a key with a plain `key = ?` lookup, so a row made here
-- works like one from `headscale preauthkeys create --reusable`. Idempotent; deletes nothing.
-- Expects the parameters :user and :key (set by the caller on stdin, never on a command line).
BEGIN;
INSERT INTO users (name, created_at, updated_at)
  SELECT :user, datetime('now'), datetime('now')
  WHERE NOT EXISTS (SELECT 1 FROM users WHERE name = :user);
INSERT INTO pre_auth_keys (key, user_id, reusable, ephemeral, used, created_at, expiration)
  SELECT :key, id, 1, 0, 0, datetime('now'), NULL FROM users
  WHERE name = :user AND NOT EXISTS (SELECT 1 FROM pre_auth_keys WHERE key = :key);
COMMIT;
