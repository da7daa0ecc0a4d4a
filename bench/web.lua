-- Chat visitors for wrk, driven by bench/web.py: one wrk thread = one connection = one visitor,
-- so each response belongs to the request the same visitor just sent.
--
-- BENCH_MODE=chat: the visitor starts a conversation (POST /v1/conversations, as the widget does:
-- page context, an Idempotency-Key, its own X-Forwarded-For address), then answers every question
-- with its token, the question id and version (a random button four times in five, else a typed
-- answer of the question's kind), and starts over when the conversation is done.
-- BENCH_MODE=baseline: POST /turn of the bare FastAPI app, one raw sqlite3 INSERT + SELECT.
-- BENCH_INTERVAL_US: when set, each visitor sends on a fixed schedule (one request every that
-- many microseconds) and latency counts from the scheduled time, so a late answer is not hidden
-- by the request it delayed. Unset: each visitor sends again as soon as it has its answer.
-- BENCH_WARMUP_US: answers in the first that many microseconds are not counted.
-- BENCH_RUN: letters and digits unique to this wrk run, in every idempotency key and visitor id
-- (a key seen before would replay an old answer instead of taking a turn).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_nsec) / 1000
end

local mode = os.getenv("BENCH_MODE") or "chat"
local interval = tonumber(os.getenv("BENCH_INTERVAL_US") or "0")
local warmup = tonumber(os.getenv("BENCH_WARMUP_US") or "0")
local origin = os.getenv("BENCH_ORIGIN")
local run = os.getenv("BENCH_RUN") or "0" -- makes idempotency keys and visitor ids unique per run

-- ------------------------------------------------------------------ the main state: one per run

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("visitor", #threads)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("wrk connect=%d read=%d write=%d timeout=%d status=%d\n",
    errors.connect, errors.read, errors.write, errors.timeout, errors.status))
  for _, thread in ipairs(threads) do
    local statuses = {}
    for status, count in pairs(thread:get("statuses")) do
      table.insert(statuses, status .. ":" .. count)
    end
    io.write(string.format("visitor %d starts=%d answers=%d done=%d replayed=%d first=%d last=%d statuses=%s\n",
      thread:get("visitor"), thread:get("starts"), thread:get("answers"), thread:get("finished"),
      thread:get("replayed"),
      thread:get("first_us"), thread:get("last_us"), table.concat(statuses, ",")))
    io.write("latency ", table.concat(thread:get("samples"), ","), "\n")
  end
end

-- ------------------------------------------------------------------ a thread's state: one visitor

starts, answers, finished, replayed = 0, 0, 0, 0
first_us, last_us = 0, 0
statuses, samples = {}, {}

local counted_from
local conversations, sequence = 0, 0
local conversation, token, question, version, buttons, kind, multi, address
local sent_at, scheduled, pending

local TYPED = {
  money = "около 2 млн руб",
  number = "120",
  date = "через пару месяцев",
  name = "Иван Петров",
  text = "автоматизировать продажи",
}

function init(args)
  math.randomseed(visitor)
  counted_from = now_us() + warmup
  scheduled = now_us() + math.random() * interval
end

local function headers(extra)
  local h = { ["Content-Type"] = "application/json" }
  if origin then h["Origin"] = origin end
  for k, v in pairs(extra) do h[k] = v end
  return h
end

local function key()
  sequence = sequence + 1
  return string.format("bench-%s-%d-%d", run, visitor, sequence)
end

local function start_request()
  conversations = conversations + 1
  pending = "start"
  -- a fresh address per conversation: per-address limits stay on, as for real visitors
  address = string.format("10.%d.%d.%d", visitor % 256, math.floor(conversations / 256) % 256, conversations % 256)
  local body = string.format(
    '{"flow":"bant","locale":"ru","context":{"page_url":"https://shop.example/pricing?utm_source=bench",' ..
    '"referrer":"https://search.example/","utm":{"source":"bench"},"visitor_id":"bench%s%dx%d"}}',
    run, visitor, conversations)
  return wrk.format("POST", "/v1/conversations", headers({
    ["Idempotency-Key"] = key(),
    ["X-Forwarded-For"] = address,
  }), body)
end

local function answer_body()
  local taps = {}
  for _, id in ipairs(buttons) do
    if id:sub(1, 4) ~= "cmd:" then table.insert(taps, id) end
  end
  local at = string.format(',"question_id":"%s","version":%d', question, version)
  if #taps > 0 and (kind == "none" or math.random() < 0.8) then
    local tap = taps[math.random(#taps)]
    if multi then return string.format('{"choice":["%s"]%s}', tap, at) end
    return string.format('{"choice":"%s"%s}', tap, at)
  end
  local text
  if kind == "email" then
    text = string.format("visitor%dx%d@company.ru", visitor, conversations)
  elseif kind == "tel" then
    text = string.format("+7 999 %03d-%02d-%02d", visitor % 1000, conversations % 100, sequence % 100)
  else
    text = TYPED[kind] or "да"
  end
  return string.format('{"text":"%s"%s}', text, at)
end

local function chat_request()
  if conversation == nil or question == nil then return start_request() end
  pending = "answer"
  return wrk.format("POST", "/v1/conversations/" .. conversation .. "/messages", headers({
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = key(),
    ["X-Forwarded-For"] = address,
  }), answer_body())
end

local function baseline_request()
  pending = "answer"
  return wrk.format("POST", "/turn", headers({}),
    string.format('{"conversation":"c%d","text":"120"}', visitor))
end

request = mode == "baseline" and baseline_request or chat_request

if interval > 0 then
  function delay()
    scheduled = scheduled + interval
    local wait = (scheduled - now_us()) / 1000
    if wait < 0 then return 0 end
    return math.floor(wait)
  end
end

-- What the widget reads of a turn: the waiting question, its version, and the last reply's
-- buttons, input kind and multi flag (the JSON is the API's compact form, keys in its order).
local function read_turn(body)
  question = body:match('"question_id":"([^"]+)"')
  version = tonumber(body:match('"version":(%d+)'))
  local last = nil
  local at = 1
  while true do
    local found = body:find('{"text":', at, true)
    if found == nil then break end
    last, at = found, found + 1
  end
  buttons = {}
  if last == nil or question == nil or body:find('"done":true', 1, true) then
    question = nil
    return
  end
  local reply = body:sub(last, body:find('],"state":', last, true) or -1)
  local list = reply:match('"buttons":(%b[])') or "[]"
  for id in list:gmatch('"id":"([^"]+)"') do table.insert(buttons, id) end
  multi = reply:find('"multi":true', 1, true) ~= nil
  kind = reply:match('"input":{"kind":"(%a+)"') or "text"
end

function response(status, headers, body)
  local now = now_us()
  local began = sent_at
  if interval > 0 and scheduled < began then began = scheduled end
  local ok = status == 200 or status == 201
  if now >= counted_from then
    if first_us == 0 then first_us = now end
    last_us = now
    table.insert(samples, math.floor(now - began))
    if not ok then
      statuses[status] = (statuses[status] or 0) + 1
    elseif headers["idempotent-replayed"] or headers["Idempotent-Replayed"] then
      replayed = replayed + 1 -- the bench's own mistake: a key it sent before
    elseif pending == "start" then
      starts = starts + 1
    else
      answers = answers + 1
    end
  end
  if mode == "baseline" then return end
  if not ok then
    conversation = nil
    return
  end
  if pending == "start" then
    conversation = body:match('"conversation_id":"([^"]+)"')
    token = body:match('"token":"([^"]+)"')
  end
  read_turn(body)
  if question == nil then
    if now >= counted_from then finished = finished + 1 end
    conversation = nil
  end
end

-- wrk calls request() just before it writes, after any delay: that moment is when it was sent.
local build = request
request = function()
  sent_at = now_us()
  return build()
end
