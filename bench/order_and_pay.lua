-- wrk script: every connection places an order through the gateway, then pays it, and again.
-- Counts orders created, payments made and failed answers per thread; done() prints one
-- line "BENCH {json}" that bench/order_path.py reads.
local threads = {}
local product_id = os.getenv("BENCH_PRODUCT_ID") or "1"
local order_body = '{"user_id": 1, "items": [{"product_id": ' .. product_id .. ', "quantity": 1}]}'

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  pending = {}   -- order ids this thread has created and not yet paid
  orders = 0
  payments = 0
  failures = 0
end

function request()
  local order_id = table.remove(pending)
  if order_id then
    return wrk.format("POST", "/payment/pay", {["Content-Type"] = "application/json"},
      '{"order_id": ' .. order_id .. '}')
  end
  return wrk.format("POST", "/order", {["Content-Type"] = "application/json"}, order_body)
end

function response(status, headers, body)
  if status == 201 then
    local order_id = string.match(body, '"order_id":(%d+)')
    if order_id then
      orders = orders + 1
      table.insert(pending, order_id)
      return
    end
  elseif status == 200 then
    payments = payments + 1
    return
  end
  failures = failures + 1
end

function done(summary, latency, requests)
  local o, p, f = 0, 0, 0
  for _, thread in ipairs(threads) do
    o = o + thread:get("orders")
    p = p + thread:get("payments")
    f = f + thread:get("failures")
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"orders": %d, "payments": %d, "failed_answers": %d, "requests": %d, '
      .. '"duration_us": %d, "socket_errors": %d, "timeouts": %d, '
      .. '"latency_us": {"p50": %d, "p95": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    o, p, f, summary.requests, summary.duration,
    errors.connect + errors.read + errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
