-- :checkhealth slipway — whether the plugin can work here: `slipway` is installed, its engine
-- answers, and the current folder has an image (and how its last build went).
local M = {}

-- Neovim 0.7 has the `health` module with report_*; 0.9 and later `vim.health` with start, ok, ….
local health = vim.health or require("health")
local start = health.start or health.report_start
local ok = health.ok or health.report_ok
local warn = health.warn or health.report_warn
local error = health.error or health.report_error

function M.check()
  local slipway = require("slipway")
  local config = slipway.config()
  start("slipway")

  local missing = slipway.missing_executable()
  if missing then return error(missing) end
  ok("slipway is installed: " .. vim.fn.exepath(config.cmd[1]))

  local err, list = slipway.call("image/list", { namespace = config.namespace }, 15000)
  if err then
    return error("the engine does not answer: " .. (err.message or vim.inspect(err)),
      { "run `" .. table.concat(vim.list_extend({ config.cmd[1], "engine", "status" }, vim.list_slice(config.cmd, 2)), " ")
        .. "` in a terminal to see why" })
  end
  ok(string.format("the engine answers (%d image(s) in namespace %s)", #(list.images or {}), config.namespace))

  local name = slipway.image_name()
  local e, s = slipway.call("image/status", { name = name, namespace = config.namespace }, 15000)
  if e then
    return warn(string.format("no image %s for %s: %s", name, vim.fn.getcwd(), e.message or vim.inspect(e)),
      { "run :SlipwayBuild in the project's folder to create it" })
  end
  local text = string.format("image %s: %s, latest build %s (%s)", name, s.ready or "?", tostring(s.latestBuild or "-"), s.latestReason or "-")
  if s.ready == "NotReady" then warn(text .. (s.message and (": " .. s.message) or ""), { "see :SlipwayLogs " .. name }) else ok(text) end
end

return M
