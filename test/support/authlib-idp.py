"""A token endpoint built on Authlib (Debian's python3-authlib 1.2, Flask): a real OAuth 2.0 server that takes
client_secret_basic credentials as they are, without the form-decoding of RFC 6749 §2.3.1 (Authlib's
extract_basic_authorization splits the base64-decoded pair on its first ':' and stops there).

argv[1]: a JSON object {client_id: client_secret}. Prints the port it listens on (127.0.0.1), then serves
POST /token (client_credentials) and GET /captured (the Authorization headers and statuses seen, for tests)."""
import json
import os
import sys
import time

os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the tests speak plain HTTP on loopback

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

CLIENTS = json.loads(sys.argv[1])
captured = []


class Client(ClientMixin):
    def __init__(self, client_id):
        self.client_id = client_id

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return scope or ''

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return client_secret == CLIENTS[self.client_id]

    def check_endpoint_auth_method(self, method, endpoint):
        return method == 'client_secret_basic'

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == 'client_credentials'


def query_client(client_id):
    return Client(client_id) if client_id in CLIENTS else None


def save_token(token, req):
    pass


app = Flask(__name__)
server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
server.register_grant(grants.ClientCredentialsGrant)


@app.post('/token')
def token():
    response = server.create_token_response()
    captured.append({'authorization': request.headers.get('Authorization'), 'status': response.status_code, 'at': time.time()})
    return response


@app.get('/captured')
def seen():
    return jsonify(captured)


@app.delete('/captured')
def clear():
    captured.clear()
    return ('', 204)


http = make_server('127.0.0.1', 0, app, threaded=True)
print(http.port, flush=True)
http.serve_forever()
