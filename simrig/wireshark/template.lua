-- Lua runtime of the YKC dissector: framing (protocol-ykc §1.2–§1.4), CRC-16/MODBUS,
-- field kinds (§1.5, §1.6) and TCP reassembly. The generator puts the message
-- declarations (the E and MSG tables) where the DECLARATIONS marker line is.
-- Plain Lua 5.2 that also runs on 5.3/5.4: no bitwise operators, no //, no goto,
-- no tostring() of numbers (5.3+ prints 3.0 where 5.2 prints 3).

local ykc = Proto("ykc", "YKC charging-pile protocol")
local DEFAULT_PORT = 8767
ykc.prefs.port = Pref.uint("TCP port", DEFAULT_PORT, "TCP port of the YKC platform (0: none)")

local floor = math.floor

-- the generated declarations: E (enum value names), MSG (type code → message spec)
--@@DECLARATIONS@@

local TYPE_NAMES = {}
for code, msg in pairs(MSG) do
  TYPE_NAMES[code] = msg.name
end

local H = {
  start = ProtoField.uint8("ykc.start", "start", base.HEX, nil, nil, "Start byte 0x68 (§1.2)"),
  length = ProtoField.uint8("ykc.length", "length", base.DEC, nil, nil,
    "Bytes from seq to the end of the body (§1.2)"),
  seq = ProtoField.uint16("ykc.seq", "seq", base.HEX, nil, nil, "Sequence number, big-endian (§1.3)"),
  encryption = ProtoField.uint8("ykc.encryption", "encryption", base.HEX,
    { [0] = "none", [1] = "3des" }, nil, "Encryption flag (§1.2)"),
  type = ProtoField.uint8("ykc.type", "type", base.HEX, TYPE_NAMES, nil, "Frame type (§2)"),
  direction = ProtoField.string("ykc.direction", "direction", nil,
    "Odd types travel pile to platform, even ones platform to pile (§2)"),
  body = ProtoField.bytes("ykc.body", "body"),
  crc = ProtoField.uint16("ykc.crc", "crc", base.HEX, nil, nil,
    "CRC-16/MODBUS of seq..body, low byte first (§1.4)"),
  crc_status = ProtoField.uint8("ykc.crc.status", "crc status", base.DEC, { [0] = "bad", [1] = "good" }),
  garbage = ProtoField.bytes("ykc.garbage", "garbage", nil, "Bytes outside any frame"),
}

local EX = {
  bad_crc = ProtoExpert.new("ykc.bad_crc", "Bad CRC", expert.group.CHECKSUM, expert.severity.ERROR),
  bad_length = ProtoExpert.new("ykc.bad_length", "Bad length", expert.group.MALFORMED,
    expert.severity.ERROR),
  body_length = ProtoExpert.new("ykc.body_length", "Wrong body length", expert.group.MALFORMED,
    expert.severity.ERROR),
  unknown_type = ProtoExpert.new("ykc.unknown_type", "Unknown frame type", expert.group.UNDECODED,
    expert.severity.WARN),
  encrypted = ProtoExpert.new("ykc.encrypted", "Encrypted body", expert.group.UNDECODED,
    expert.severity.WARN),
  bad_field = ProtoExpert.new("ykc.bad_field", "Bad field", expert.group.MALFORMED,
    expert.severity.ERROR),
  deviation = ProtoExpert.new("ykc.deviation", "Field deviation (§8)", expert.group.PROTOCOL,
    expert.severity.WARN),
  garbage = ProtoExpert.new("ykc.garbage.expert", "Bytes outside any frame", expert.group.MALFORMED,
    expert.severity.WARN),
  trailing = ProtoExpert.new("ykc.trailing", "Bytes after the body", expert.group.MALFORMED,
    expert.severity.WARN),
}

do
  local fields = {}
  for _, f in pairs(H) do
    fields[#fields + 1] = f
  end
  for _, msg in pairs(MSG) do
    fields[#fields + 1] = msg.f
    for _, spec in ipairs(msg.fields) do
      fields[#fields + 1] = spec.f
      for _, key in ipairs({ "slot_f", "count_f", "record_f" }) do
        if spec[key] then
          fields[#fields + 1] = spec[key]
        end
      end
      for _, item in ipairs(spec.items or {}) do
        fields[#fields + 1] = item.f
      end
    end
  end
  ykc.fields = fields
  local experts = {}
  for _, e in pairs(EX) do
    experts[#experts + 1] = e
  end
  ykc.experts = experts
end

-- CRC-16/MODBUS (§1.4): poly 0x8005 reflected (0xA001), init 0xFFFF, no final xor.
-- xor: bit32 on 5.2, the native operator on 5.3+ (compiled from a string, so 5.2 never
-- parses it), Wireshark's BitOp, or arithmetic as a last resort
local bxor = bit32 and bit32.bxor
if not bxor then
  local compiled = load("return function(a, b) return a ~ b end")
  bxor = (compiled and compiled()) or (bit and bit.bxor)
end
if not bxor then
  bxor = function(a, b)
    local r, p = 0, 1
    while a > 0 or b > 0 do
      local x, y = a % 2, b % 2
      if x ~= y then
        r = r + p
      end
      a, b, p = (a - x) / 2, (b - y) / 2, p * 2
    end
    return r
  end
end

local CRC_TABLE = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if c % 2 == 1 then
      c = bxor(floor(c / 2), 0xA001)
    else
      c = floor(c / 2)
    end
  end
  CRC_TABLE[i] = c
end

local function crc16(tvb, offset, length)
  local crc = 0xFFFF
  for i = offset, offset + length - 1 do
    crc = bxor(floor(crc / 256), CRC_TABLE[bxor(crc % 256, tvb(i, 1):uint())])
  end
  return crc
end

-- field kinds (§1.5, §1.6) ---------------------------------------------------------------

local function le_uint(tvb, offset, n)
  local value, mul = 0, 1
  for i = 0, n - 1 do
    value = value + tvb(offset + i, 1):uint() * mul
    mul = mul * 256
  end
  return value
end

local function hex(tvb, offset, n, fmt)
  local out = {}
  for i = 0, n - 1 do
    out[#out + 1] = string.format(fmt, tvb(offset + i, 1):uint())
  end
  return table.concat(out)
end

-- latin-1 bytes as UTF-8 (the codec decodes ASCII fields as latin-1)
local function latin1(bytes)
  local out = {}
  for i = 1, #bytes do
    local b = bytes:byte(i)
    if b < 0x80 then
      out[#out + 1] = string.char(b)
    else
      out[#out + 1] = string.char(0xC0 + floor(b / 64), 0x80 + b % 64)
    end
  end
  return table.concat(out)
end

local DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

-- CP56Time2a (§1.6): ISO text as simrig's JSON shows it; "" for seven zero bytes
local function cp56(tvb, offset)
  local b = {}
  local zero = true
  for i = 0, 6 do
    b[i] = tvb(offset + i, 1):uint()
    if b[i] ~= 0 then
      zero = false
    end
  end
  if zero then
    return "", nil, nil
  end
  local issues = {}
  if b[4] >= 0x20 then
    issues[#issues + 1] = { "cp56_day_of_week", "bits set" }
  end
  if b[2] >= 0x40 or b[3] >= 0x20 or b[5] >= 0x10 or b[6] >= 0x80 then
    issues[#issues + 1] = { "cp56_flag_bits", "IV/SU/reserved bits set" }
  end
  local ms = b[0] + b[1] * 256
  local year, month, day = 2000 + b[6] % 128, b[5] % 16, b[4] % 32
  local hour, minute, second = b[3] % 32, b[2] % 64, floor(ms / 1000)
  local dim = DAYS[month]
  if month == 2 and year % 4 == 0 and (year % 100 ~= 0 or year % 400 == 0) then
    dim = 29
  end
  if not dim or day < 1 or day > dim or hour > 23 or minute > 59 or second > 59 then
    return "", "invalid CP56Time2a", issues
  end
  local text = string.format("%04d-%02d-%02dT%02d:%02d:%02d.%03d", year, month, day, hour, minute,
    second, ms % 1000)
  return text, nil, issues
end

local function add(tree, spec, range, value, label)
  local item
  if label then
    item = tree:add(spec.f, range, value, label)
  else
    item = tree:add(spec.f, range, value)
  end
  if spec.unit then
    item:append_text(" " .. spec.unit)
  end
  return item
end

-- the code is simrig's tolerant-decode deviation (`simrig decode --tolerant`, §8)
local function deviation(item, spec, code, detail)
  item:add_proto_expert_info(EX.deviation,
    string.format("%s:%s (%s)", spec.path or spec.name, code, detail))
end

-- Each decoder adds the field at offset and returns the offset after it, or nil (and a
-- problem) when the body is too short for it.
local DECODE = {}

function DECODE.uint(spec, tvb, offset, tree)
  add(tree, spec, tvb(offset, spec.size), le_uint(tvb, offset, spec.size))
  return offset + spec.size
end

function DECODE.flag(spec, tvb, offset, tree)
  add(tree, spec, tvb(offset, 1), tvb(offset, 1):uint() ~= 0)
  return offset + 1
end

DECODE.enum = DECODE.uint

function DECODE.scaled(spec, tvb, offset, tree)
  local value = le_uint(tvb, offset, spec.size) / spec.scale
  if spec.offset then
    value = value + spec.offset
  end
  add(tree, spec, tvb(offset, spec.size), value)
  return offset + spec.size
end

function DECODE.bmscurrent(spec, tvb, offset, tree)
  local raw = le_uint(tvb, offset, 2)
  add(tree, spec, tvb(offset, 2), math.abs(4000 - raw) / 10)  -- tenths first: no float noise
  return offset + 2
end

function DECODE.bcdbyte(spec, tvb, offset, tree)
  local raw = tvb(offset, 1):uint()
  local high, low = floor(raw / 16), raw % 16
  if high < 10 and low < 10 then
    add(tree, spec, tvb(offset, 1), high * 10 + low)
  else
    deviation(add(tree, spec, tvb(offset, 1), raw), spec, "bcd_non_digit",
      string.format("byte 0x%02X", raw))
  end
  return offset + 1
end

function DECODE.bcd(spec, tvb, offset, tree)
  local text = hex(tvb, offset, spec.size, "%02x")
  local item = add(tree, spec, tvb(offset, spec.size), text)
  if text:find("[^0-9]") then
    deviation(item, spec, "bcd_non_digit", "nibble in " .. text)
  end
  return offset + spec.size
end

function DECODE.bytes(spec, tvb, offset, tree)
  add(tree, spec, tvb(offset, spec.size), hex(tvb, offset, spec.size, "%02X"))
  return offset + spec.size
end

function DECODE.ascii(spec, tvb, offset, tree)
  local raw = tvb(offset, spec.size):raw()
  if spec.reversed then
    raw = raw:reverse()
    local last = #raw
    while last > 0 and raw:byte(last) == 0 do
      last = last - 1
    end
    raw = raw:sub(1, last)
  else
    local nul = raw:find("\0", 1, true)
    if nul then
      raw = raw:sub(1, nul - 1)
    end
  end
  add(tree, spec, tvb(offset, spec.size), latin1(raw))
  return offset + spec.size
end

function DECODE.uintn(spec, tvb, offset, tree)
  local raw = le_uint(tvb, offset, spec.size)
  if spec.scale then
    raw = raw / spec.scale
  end
  add(tree, spec, tvb(offset, spec.size), raw)
  return offset + spec.size
end

function DECODE.cp56(spec, tvb, offset, tree)
  local text, err, issues = cp56(tvb, offset)
  local item
  if text == "" then
    local what = err and "invalid" or "none (all zero)"
    item = add(tree, spec, tvb(offset, 7), "", spec.name .. ": " .. what)
  else
    item = add(tree, spec, tvb(offset, 7), text)
  end
  if err then
    item:add_proto_expert_info(EX.bad_field, spec.name .. ": " .. err)
  end
  for _, issue in ipairs(issues or {}) do
    deviation(item, spec, issue[1], issue[2])
  end
  return offset + 7
end

function DECODE.bytetable(spec, tvb, offset, tree)
  local parent = tree:add(spec.f, tvb(offset, spec.size))
  parent:append_text(string.format(": %d values", spec.size))
  for k = 0, spec.size - 1 do
    local value = tvb(offset + k, 1):uint()
    parent:add(spec.slot_f, tvb(offset + k, 1), value,
      string.format("%s[%d]: %d", spec.name, k, value))
  end
  return offset + spec.size
end

function DECODE.pascal(spec, tvb, offset, tree)
  local n = tvb(offset, 1):uint()
  if offset + 1 + n > tvb:len() then
    return nil, string.format("%s: length byte %d, %d bytes left", spec.name, n,
      tvb:len() - offset - 1)
  end
  add(tree, spec, tvb(offset, 1 + n), latin1(tvb(offset + 1, n):raw()))
  return offset + 1 + n
end

function DECODE.repeated(spec, tvb, offset, tree)
  local total = tvb:len()
  local count
  local start = offset
  if spec.prefix then
    count = tvb(offset, 1):uint()
    if offset + 1 + count * spec.record_size > total then
      return nil, string.format("%s: %d records of %d bytes do not fit %d bytes", spec.name, count,
        spec.record_size, total - offset - 1)
    end
    offset = offset + 1
  else
    count = floor((total - offset) / spec.record_size)
  end
  local length = offset - start + count * spec.record_size
  local parent = tree:add(spec.f, tvb(start, length > 0 and length or nil))
  parent:append_text(string.format(": %d records", count))
  if spec.prefix then
    parent:add(spec.count_f, tvb(start, 1), count)
  end
  for r = 0, count - 1 do
    local record = parent:add(spec.record_f, tvb(offset, spec.record_size))
    record:set_text(string.format("%s[%d]", spec.name, r))
    for _, item in ipairs(spec.items) do
      offset = DECODE[item.kind](item, tvb, offset, record)
    end
  end
  return offset
end

-- frames (§1.2) -------------------------------------------------------------------------

local START = 0x68
local MAX_LENGTH = 200
local pdus_in_packet = 0

local function info(pinfo, text)
  pdus_in_packet = pdus_in_packet + 1
  if pdus_in_packet == 1 then
    pinfo.cols.info:set(text)
  else
    pinfo.cols.info:append(", " .. text)
  end
end

-- bytes of the PDU at offset: a frame (L + 4), a bad length byte (2) or a run of garbage
local function pdu_length(tvb, pinfo, offset)
  local total = tvb:len()
  if tvb(offset, 1):uint() ~= START then
    local i = offset + 1
    while i < total and tvb(i, 1):uint() ~= START do
      i = i + 1
    end
    return i - offset
  end
  local length = tvb(offset + 1, 1):uint()
  if length < 4 then
    return 2
  end
  return length + 4
end

local function dissect_body(msg, tvb, offset, size, tree)
  if size == 0 then
    tree:add_proto_expert_info(EX.bad_field, msg.name .. ": empty body")
    return
  end
  local sub = tree:add(msg.f, tvb(offset, size))
  local body = tvb(offset, size):tvb()
  local pos = 0
  for _, spec in ipairs(msg.fields) do
    local need = spec.size or spec.need
    if pos + need > size then
      sub:add_proto_expert_info(EX.bad_field,
        string.format("%s: body ends before %s", msg.name, spec.name))
      return
    end
    local after, problem = DECODE[spec.kind](spec, body, pos, sub)
    if not after then
      sub:add_proto_expert_info(EX.bad_field, msg.name .. "." .. problem)
      return
    end
    pos = after
  end
  if pos < size then
    sub:add_proto_expert_info(EX.trailing, string.format("%d bytes after %s's body", size - pos,
      msg.name))
  end
end

local function dissect_frame(tvb, pinfo, tree)
  local total = tvb:len()
  if tvb(0, 1):uint() ~= START then
    local item = tree:add(ykc, tvb(), "YKC garbage")
    item:add(H.garbage, tvb())
    item:add_proto_expert_info(EX.garbage, string.format("skipped %d bytes", total))
    info(pinfo, string.format("garbage (%d bytes)", total))
    return total
  end
  local root = tree:add(ykc, tvb())
  root:add(H.start, tvb(0, 1))
  local length_item = root:add(H.length, tvb(1, 1))
  local length = tvb(1, 1):uint()
  if length < 4 then
    length_item:add_proto_expert_info(EX.bad_length, string.format("length byte %d < 4", length))
    root:set_text("YKC bad length")
    info(pinfo, "bad length")
    return total
  end
  local seq = tvb(2, 2):uint()
  local code = tvb(5, 1):uint()
  local msg = MSG[code]
  root:add(H.seq, tvb(2, 2))
  local enc_item = root:add(H.encryption, tvb(4, 1))
  local type_item = root:add(H.type, tvb(5, 1))
  local direction = (code % 2 == 1) and "pile → platform" or "platform → pile"
  root:add(H.direction, tvb(5, 1), direction)
  local name = msg and msg.name or "unknown"
  local text = string.format("0x%02X %s", code, name)
  root:set_text(string.format("YKC %s (%s), %s, seq %04x", text, msg and msg.section or "?",
    direction, seq))

  local size = length - 4
  if not msg then
    type_item:add_proto_expert_info(EX.unknown_type, string.format("no YKC frame type 0x%02X", code))
    if size > 0 then
      root:add(H.body, tvb(6, size))
    end
  elseif tvb(4, 1):uint() ~= 0 then
    enc_item:add_proto_expert_info(EX.encrypted, string.format("encryption 0x%02X: %s",
      tvb(4, 1):uint(), tvb(4, 1):uint() == 1 and "3DES body (no key exchange in YKC 1.6)"
        or "unknown flag"))
    if size > 0 then
      root:add(H.body, tvb(6, size))
    end
  else
    if msg.size and size ~= msg.size then
      length_item:add_proto_expert_info(EX.body_length, string.format(
        "%s body is %d bytes, %s says %d", msg.name, size, msg.section, msg.size))
    end
    if length > MAX_LENGTH and code ~= 0x3D then
      length_item:add_proto_expert_info(EX.deviation, string.format("length_over_%d (%d bytes)",
        MAX_LENGTH, length))
    end
    dissect_body(msg, tvb, 6, size, root)
  end

  local crc_item = root:add(H.crc, tvb(6 + size, 2), le_uint(tvb, 6 + size, 2))
  local computed = crc16(tvb, 2, length)
  local low, high = tvb(6 + size, 1):uint(), tvb(7 + size, 1):uint()
  local good = low == computed % 256 and high == floor(computed / 256)
  root:add(H.crc_status, tvb(6 + size, 2), good and 1 or 0)
  if not good then
    local detail
    if low == floor(computed / 256) and high == computed % 256 then
      detail = "CRC bytes swapped (high byte first)"
    else
      detail = string.format("CRC %02X %02X on the wire, %02X %02X computed", low, high,
        computed % 256, floor(computed / 256))
    end
    crc_item:add_proto_expert_info(EX.bad_crc, detail)
    text = text .. " [bad CRC]"
  end
  info(pinfo, text)
  return total
end

function ykc.dissector(tvb, pinfo, tree)
  pinfo.cols.protocol = "YKC"
  pdus_in_packet = 0
  dissect_tcp_pdus(tvb, tree, 2, pdu_length, dissect_frame, true)
  return tvb:len()
end

local registered_port = 0

local function register_port(port)
  local tcp = DissectorTable.get("tcp.port")
  if registered_port ~= 0 then
    tcp:remove(registered_port, ykc)
  end
  if port ~= 0 then
    tcp:add(port, ykc)
  end
  registered_port = port
end

function ykc.prefs_changed()
  if ykc.prefs.port ~= registered_port then
    register_port(ykc.prefs.port)
  end
end

register_port(DEFAULT_PORT)
