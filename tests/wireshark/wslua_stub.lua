-- A stand-in for the part of Wireshark's Lua API that ykc.lua uses, for running the
-- generated dissector on a plain Lua interpreter (5.4 here; Debian 12's Wireshark is 5.2).
-- Usage: lua5.4 wslua_stub.lua ykc.lua HEX_STREAM...  → PDML-like XML on stdout, one
-- <packet> per argument. Values are checked as strictly as wslua checks them.

local script = arg[1]

local function xml(text)
  return (text:gsub("&", "&amp;"):gsub("<", "&lt;"):gsub(">", "&gt;"):gsub('"', "&quot;"))
end

local function integral(value, what)
  if type(value) ~= "number" or value ~= math.floor(value) then
    error(what .. ": not an integer: " .. tostring(value), 3)
  end
  if math.tointeger then
    return math.tointeger(value)
  end
  return value
end

-- fields ------------------------------------------------------------------------------------

base = { DEC = 1, HEX = 2, NONE = 0 }
expert = {
  group = { CHECKSUM = 1, MALFORMED = 2, UNDECODED = 3, PROTOCOL = 4 },
  severity = { ERROR = 1, WARN = 2, NOTE = 3 },
}

local function field(ftype, abbr, name, display, valuestring)
  return { ftype = ftype, abbr = abbr, name = name, display = display, vs = valuestring }
end

ProtoField = {}
for _, t in ipairs({ "uint8", "uint16", "uint24", "uint32" }) do
  ProtoField[t] = function(abbr, name, display, valuestring)
    return field(t, abbr, name, display, valuestring)
  end
end
function ProtoField.double(abbr, name)
  return field("double", abbr, name)
end
function ProtoField.string(abbr, name)
  return field("string", abbr, name)
end
function ProtoField.bool(abbr, name)
  return field("bool", abbr, name)
end
function ProtoField.none(abbr, name)
  return field("none", abbr, name)
end
function ProtoField.bytes(abbr, name)
  return field("bytes", abbr, name)
end

ProtoExpert = {
  new = function(abbr, text)
    return { abbr = abbr, text = text }
  end,
}

Pref = {
  uint = function(_, default)
    return default
  end,
}

local protos = {}
function Proto(name, desc)
  local proto = { name = name, desc = desc, prefs = {}, is_proto = true }
  protos[#protos + 1] = proto
  return proto
end

local dissector_for_port = {}
DissectorTable = {
  get = function(_)
    return {
      add = function(_, port, proto)
        dissector_for_port[port] = proto
      end,
      remove = function(_, port)
        dissector_for_port[port] = nil
      end,
    }
  end,
}

-- tvb -------------------------------------------------------------------------------------

local Tvb, Range = {}, {}

local function new_tvb(data)
  return setmetatable({ data = data }, Tvb)
end

Tvb.__index = Tvb
function Tvb:len()
  return #self.data
end
function Tvb:range(offset, length)
  offset = offset or 0
  if length == nil or length == -1 then
    length = #self.data - offset
  end
  offset, length = integral(offset, "offset"), integral(length, "length")
  if offset < 0 or length < 0 or offset + length > #self.data then
    error(string.format("range %d+%d out of %d bytes", offset, length, #self.data), 2)
  end
  return setmetatable({ src = self, offset = offset, length = length }, Range)
end
Tvb.__call = Tvb.range

Range.__index = Range
function Range:raw()
  return self.src.data:sub(self.offset + 1, self.offset + self.length)
end
function Range:uint()
  local value = 0
  for i = 1, self.length do
    value = value * 256 + self:raw():byte(i)
  end
  return value
end
function Range:len()
  return self.length
end
function Range:tvb()
  return new_tvb(self:raw())
end

-- tree ------------------------------------------------------------------------------------

local Item = {}
Item.__index = Item

local function new_item(attrs)
  return setmetatable({ attrs = attrs, children = {} }, Item)
end

local function show(f, value)
  if f.ftype == "double" then
    if type(value) ~= "number" then
      error(f.abbr .. ": not a number", 3)
    end
    return string.format("%.15g", value)
  elseif f.ftype == "string" then
    if type(value) ~= "string" then
      error(f.abbr .. ": not a string", 3)
    end
    return value
  elseif f.ftype == "bool" then
    if type(value) ~= "boolean" then
      error(f.abbr .. ": not a boolean", 3)
    end
    return value and "1" or "0"
  elseif f.ftype == "none" or f.ftype == "bytes" then
    return ""
  end
  value = integral(value, f.abbr)
  if f.display == base.HEX then
    local width = ({ uint8 = 2, uint16 = 4, uint24 = 6, uint32 = 8 })[f.ftype]
    return string.format("0x%0" .. width .. "x", value)
  end
  return string.format("%d", value)
end

local function showname(f, shown, value)
  if f.ftype == "none" then
    return f.name
  end
  if f.vs then
    return string.format("%s: %s (%s)", f.name, f.vs[value] or "Unknown", shown)
  end
  if f.ftype == "bool" then
    return f.name .. ": " .. (value and "True" or "False")
  end
  return f.name .. ": " .. shown
end

function Item:add(f, range, value, label)
  if f.is_proto then
    local text = type(value) == "string" and value or f.desc
    local item = new_item({ tag = "proto", name = f.name, showname = text })
    self.children[#self.children + 1] = item
    return item
  end
  if value == nil and f.ftype:sub(1, 4) == "uint" then
    value = range:uint() -- tree:add reads big-endian from the range
  elseif value == nil and f.ftype ~= "none" and f.ftype ~= "bytes" then
    error(f.abbr .. ": no value", 2)
  end
  local shown = show(f, value)
  local item = new_item({
    tag = "field",
    name = f.abbr,
    show = shown,
    showname = label or showname(f, shown, value),
  })
  self.children[#self.children + 1] = item
  return item
end
function Item:append_text(text)
  self.attrs.showname = self.attrs.showname .. text
end
function Item:set_text(text)
  self.attrs.showname = text
end
function Item:add_proto_expert_info(e, text)
  local group = new_item({ tag = "field", name = "_ws.expert", showname = "Expert Info" })
  group.children[1] = new_item({ tag = "field", name = e.abbr, showname = text or e.text })
  self.children[#self.children + 1] = group
end

local function dump(item, indent, out)
  local a = item.attrs
  local attrs = { string.format('name="%s"', xml(a.name)) }
  if a.showname then
    attrs[#attrs + 1] = string.format('showname="%s"', xml(a.showname))
  end
  if a.show then
    attrs[#attrs + 1] = string.format('show="%s"', xml(a.show))
  end
  out[#out + 1] = string.format("%s<%s %s>", indent, a.tag, table.concat(attrs, " "))
  for _, child in ipairs(item.children) do
    dump(child, indent .. "  ", out)
  end
  out[#out + 1] = string.format("%s</%s>", indent, a.tag)
end

-- TCP: the whole stream as one tvb, split into PDUs by the dissector's length function
function dissect_tcp_pdus(tvb, tree, min_size, get_len, dissect)
  local offset = 0
  while offset + min_size <= tvb:len() do
    local length = integral(get_len(tvb, {}, offset), "pdu length")
    if offset + length > tvb:len() then
      break
    end
    dissect(tvb:range(offset, length):tvb(), tree.pinfo, tree)
    offset = offset + length
  end
end

dofile(script)
local ykc = dissector_for_port[8767]
assert(ykc and ykc.dissector, "ykc.lua registered no dissector on port 8767")
assert(#ykc.fields > 0 and #ykc.experts > 0)
if ykc.prefs_changed then
  ykc.prefs_changed()
end

local out = { "<pdml>" }
for i = 2, #arg do
  local data = arg[i]:gsub("%x%x", function(h)
    return string.char(tonumber(h, 16))
  end)
  local cols = { info = { set = function() end, append = function() end } }
  local root = new_item({ tag = "packet", name = "" })
  root.pinfo = { cols = cols }
  ykc.dissector(new_tvb(data), root.pinfo, root)
  out[#out + 1] = "<packet>"
  for _, child in ipairs(root.children) do
    dump(child, "  ", out)
  end
  out[#out + 1] = "</packet>"
end
out[#out + 1] = "</pdml>"
print(table.concat(out, "\n"))
