-- The chat request an answer replied to, for answers to a message list
-- (system instructions, earlier turns, tool calls and results) or with
-- tools: JSON {messages, tools, tool_choice, tool_calls}, so the answer
-- can be replayed from its record. NULL for answers without one and for
-- every answer stored before this migration (they replay as before).
ALTER TABLE answers ADD COLUMN conversation TEXT;
