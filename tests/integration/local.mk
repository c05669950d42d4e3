# Integration tests: each starts the built weft on 127.0.0.1 and talks to it
# over real sockets (see tests/integration/weftest.py).
WEFT_INTEGRATION_TESTS = \
	tests/integration/t_startup.py \
	tests/integration/t_http.py \
	tests/integration/t_async.py \
	tests/integration/t_uwsgi.py \
	tests/integration/t_response.py \
	tests/integration/t_master.py \
	tests/integration/t_wsgi.py \
	tests/integration/t_wsgi_async.py \
	tests/integration/t_wsgi_state.py \
	tests/integration/t_wsgi_environ.py \
	tests/integration/t_rack.py \
	tests/integration/t_psgi.py \
	tests/integration/t_psgi_api.py \
	tests/integration/t_coroae.py \
	tests/integration/t_coroae_state.py \
	tests/integration/t_gevent.py \
	tests/integration/t_matrix.py \
	tests/integration/t_hostile.py \
	tests/integration/t_sdk.py \
	tests/integration/t_static.py \
	tests/integration/t_cgi.py \
	tests/integration/t_compat.py \
	tests/integration/t_stats.py \
	tests/integration/t_log.py \
	tests/integration/t_compat_sys.py \
	tests/integration/t_compat_nginx.py \
	tests/integration/t_threads.py
TESTS += $(WEFT_INTEGRATION_TESTS)
EXTRA_DIST += $(WEFT_INTEGRATION_TESTS)
