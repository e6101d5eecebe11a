-- Atomic seat pick for the redis-lua baseline: a port of the product's best-available finder
-- (reservation-service/src/seating/seat-finder.ts, rules in docs/seat-selection.md), checked
-- against it by seat-pick.test.ts on random grids.
--
-- KEYS[1]  the subsection's seats: one byte per seat, '.' free, 'R' reserved (row-major)
-- KEYS[2]  the booking record
-- ARGV     rows, seatsPerRow, quantity, manual seat indexes ("3,4" or ""), record tail
--          ("userId|fingerprint|createdAtMs|decidedAtMs"), record TTL in seconds
-- Returns  {'existing', record} when the booking id was used before (nothing changes), or
--          {'decided', record}; record = "STATUS|REASON|seat,seat|<tail>".

local seatsKey, bookingKey = KEYS[1], KEYS[2]
local existing = redis.call('GET', bookingKey)
if existing then return {'existing', existing} end

local rows = tonumber(ARGV[1])
local spr = tonumber(ARGV[2])
local quantity = tonumber(ARGV[3])
local manual = ARGV[4]
local seatsMap = redis.call('GET', seatsKey)
if not seatsMap then return redis.error_reply('SEAT_MAP_MISSING ' .. seatsKey) end
local FREE = 46 -- '.'

local function isOrphan(runLength)
  if runLength == 1 then return 1 end
  return 0
end

-- Placement of a block of `length` seats at `start` inside the free run [first, first + runLength).
local function placementAt(first, runLength, start, length)
  local left = start - first
  local right = first + runLength - (start + length)
  return isOrphan(left) + isOrphan(right) - isOrphan(runLength), math.abs(2 * (start % spr) + length - spr)
end

local function lessPlacement(o1, c1, s1, o2, c2, s2)
  if o1 ~= o2 then return o1 < o2 end
  if c1 ~= c2 then return c1 < c2 end
  return s1 < s2
end

local function bestPlacement(first, runLength, length)
  local bo, bc = placementAt(first, runLength, first, length)
  local bs = first
  for start = first + 1, first + runLength - length do
    local o, c = placementAt(first, runLength, start, length)
    if lessPlacement(o, c, start, bo, bc, bs) then bo, bc, bs = o, c, start end
  end
  return bo, bc, bs
end

-- Free runs of one row, as {first, length} with 0-based seat indexes.
local function rowRuns(row)
  local base = row * spr
  local line = string.sub(seatsMap, base + 1, base + spr)
  local runs = {}
  local init = 1
  while true do
    local i, j = string.find(line, '%.+', init)
    if not i then break end
    runs[#runs + 1] = {base + i - 1, j - i + 1}
    init = j + 1
  end
  return runs
end

local function block(start, length, into)
  for seat = start, start + length - 1 do into[#into + 1] = seat end
  return into
end

-- Rule 1 with one block: the first row holding a long enough run fixes rule 2.
local function findSingleBlock()
  for row = 0, rows - 1 do
    local bo, bc, bs
    for _, run in ipairs(rowRuns(row)) do
      if run[2] >= quantity then
        local o, c, s = bestPlacement(run[1], run[2], quantity)
        if bo == nil or lessPlacement(o, c, s, bo, bc, bs) then bo, bc, bs = o, c, s end
      end
    end
    if bo then return block(bs, quantity, {}) end
  end
  return nil
end

local function longestSum(counts, blocks)
  local sum, left = 0, blocks
  for length = quantity - 1, 1, -1 do
    if left == 0 then break end
    local taken = math.min(left, counts[length])
    sum = sum + taken * length
    left = left - taken
  end
  return sum
end

local function emptyCounts()
  local counts = {}
  for length = 1, quantity - 1 do counts[length] = 0 end
  return counts
end

local function compareLists(a, b)
  for i = 1, #a do
    if a[i] ~= b[i] then return a[i] - b[i] end
  end
  return 0
end

-- Every run is shorter than quantity here: split into the fewest blocks (rule 1), within the
-- fewest rows from the front (rule 2), then orphans, centre and index order, by the same
-- candidate pruning and dynamic programme as the product.
local function findSeveralBlocks(runs)
  local counts = emptyCounts()
  for _, run in ipairs(runs) do counts[run[2]] = counts[run[2]] + 1 end
  local blocks
  for candidate = 2, quantity do
    if longestSum(counts, candidate) >= quantity then blocks = candidate break end
  end
  local rowLast
  counts = emptyCounts()
  for _, run in ipairs(runs) do
    counts[run[2]] = counts[run[2]] + 1
    if longestSum(counts, blocks) >= quantity then rowLast = math.floor(run[1] / spr) break end
  end

  -- For each block length, the `blocks` runs that place such a block best.
  local bestByLength = {}
  for length = 1, quantity - 1 do bestByLength[length] = {} end
  for _, run in ipairs(runs) do
    if math.floor(run[1] / spr) > rowLast then break end
    for length = 1, run[2] do
      local o, c, s = bestPlacement(run[1], run[2], length)
      local best = bestByLength[length]
      local at = #best + 1
      for i, kept in ipairs(best) do
        if lessPlacement(o, c, s, kept[2], kept[3], kept[4]) then at = i break end
      end
      table.insert(best, at, {run, o, c, s})
      if #best > blocks then table.remove(best) end
    end
  end
  local inPool, pool = {}, {}
  for length = 1, quantity - 1 do
    for _, entry in ipairs(bestByLength[length]) do
      if not inPool[entry[1]] then inPool[entry[1]] = true pool[#pool + 1] = entry[1] end
    end
  end
  table.sort(pool, function(a, b) return a[1] < b[1] end)

  -- states[used * (quantity + 1) + seats] = {orphans, centre, seat list}
  local width = quantity + 1
  local states = {[0] = {0, 0, {}}}
  local function better(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    if a[2] ~= b[2] then return a[2] < b[2] end
    return compareLists(a[3], b[3]) < 0
  end
  for _, run in ipairs(pool) do
    local placements = {}
    for length = 1, run[2] do
      local o, c, s = bestPlacement(run[1], run[2], length)
      placements[length] = {o, c, s}
    end
    local nextStates = {}
    for key, state in pairs(states) do nextStates[key] = state end
    for key, state in pairs(states) do
      local used, seats = math.floor(key / width), key % width
      if used < blocks then
        for length = 1, math.min(run[2], quantity - seats) do
          local p = placements[length]
          local list = {}
          for i = 1, #state[3] do list[i] = state[3][i] end
          local candidate = {state[1] + p[1], state[2] + p[2], block(p[3], length, list)}
          local target = (used + 1) * width + seats + length
          local kept = nextStates[target]
          if kept == nil or better(candidate, kept) then nextStates[target] = candidate end
        end
      end
    end
    states = nextStates
  end
  return states[blocks * width + quantity][3]
end

local seats, reason
if manual ~= '' then
  seats = {}
  for index in string.gmatch(manual, '%d+') do
    local seat = tonumber(index)
    if string.byte(seatsMap, seat + 1) ~= FREE then seats = nil reason = 'SEATS_UNAVAILABLE' break end
    seats[#seats + 1] = seat
  end
  if seats then table.sort(seats) end
else
  seats = findSingleBlock()
  if not seats then
    local runs, free = {}, 0
    for row = 0, rows - 1 do
      for _, run in ipairs(rowRuns(row)) do
        runs[#runs + 1] = run
        free = free + run[2]
      end
    end
    if free >= quantity then seats = findSeveralBlocks(runs) else reason = 'SOLD_OUT' end
  end
end

local status = 'REJECTED'
if seats then
  status = 'RESERVED'
  reason = ''
  -- Contiguous seats are written with one SETRANGE.
  local i = 1
  while i <= #seats do
    local j = i
    while j < #seats and seats[j + 1] == seats[j] + 1 do j = j + 1 end
    redis.call('SETRANGE', seatsKey, seats[i], string.rep('R', j - i + 1))
    i = j + 1
  end
end
local record = status .. '|' .. reason .. '|' .. table.concat(seats or {}, ',') .. '|' .. ARGV[5]
redis.call('SET', bookingKey, record, 'EX', tonumber(ARGV[6]))
return {'decided', record}
