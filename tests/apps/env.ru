# GET anything -> the Rack env as JSON: Strings as they are, other values as
# "#<Class> inspect" (rack.input, rack.errors) or their JSON form (true,
# false, Integer, Array). Also the encodings of a few values.
require 'json'

run lambda { |env|
  out = {}
  env.each do |k, v|
    out[k] = case v
             when String, true, false, Integer, Array, nil then v
             else "#<#{v.class}>"
             end
  end
  out["_encodings"] = {
    "PATH_INFO" => env["PATH_INFO"].encoding.to_s,
    "QUERY_STRING" => env["QUERY_STRING"].encoding.to_s,
  }
  out["_input_methods"] = %w[read gets each rewind].select { |m| env["rack.input"].respond_to?(m) }
  out["_errors_methods"] = %w[puts write flush].select { |m| env["rack.errors"].respond_to?(m) }
  body = JSON.generate(out)
  [200, { "Content-Type" => "application/json" }, [body]]
}
