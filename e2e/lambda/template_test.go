package lambda

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// cfn reads a CloudFormation template, turning the short forms of the
// intrinsic functions (!Ref X, !Sub s, !GetAtt A.B) into their long forms
// ({"Ref": X}, {"Fn::Sub": s}, {"Fn::GetAtt": "A.B"}).
func cfn(n *yaml.Node) any {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		return cfn(n.Content[0])
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = cfn(n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		var s []any
		for _, c := range n.Content {
			s = append(s, cfn(c))
		}
		v = s
	case yaml.AliasNode:
		return cfn(n.Alias)
	default:
		v = n.Value
	}
	if tag, ok := strings.CutPrefix(n.Tag, "!"); ok && !strings.HasPrefix(tag, "!") {
		if tag == "Ref" {
			return map[string]any{"Ref": v}
		}
		return map[string]any{"Fn::" + tag: v}
	}
	return v
}

type template struct {
	Resources map[string]map[string]any
	Globals   map[string]any
}

func readTemplate(tb testing.TB) template {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(tb), "deploy/aws/template.yaml"))
	if err != nil {
		tb.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		tb.Fatalf("template.yaml: %v", err)
	}
	root := cfn(&doc).(map[string]any)
	t := template{Resources: map[string]map[string]any{}}
	for name, r := range root["Resources"].(map[string]any) {
		t.Resources[name] = r.(map[string]any)
	}
	t.Globals, _ = root["Globals"].(map[string]any)
	return t
}

func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// refs lists the resource names a value refers to: Ref, GetAtt and the
// ${Name} and ${Name.Attr} of Sub.
func refs(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, y := range x {
			switch k {
			case "Ref":
				out = append(out, fmt.Sprint(y))
			case "Fn::GetAtt":
				out = append(out, strings.Split(fmt.Sprint(y), ".")[0])
			case "Fn::Sub":
				for _, m := range regexp.MustCompile(`\$\{([A-Za-z0-9]+)[.}]`).FindAllStringSubmatch(fmt.Sprint(y), -1) {
					out = append(out, m[1])
				}
			default:
				out = append(out, refs(y)...)
			}
		}
	case []any:
		for _, y := range x {
			out = append(out, refs(y)...)
		}
	}
	return out
}

// readVariables lists the variables the service reads through config.Env
// (e.String("NAME", ...), e.Secret("NAME"), ...), from its sources and the
// platform's, and those whose default names a container host.
func readVariables(tb testing.TB, service string) (read map[string]bool, required, composeDefaults []string) {
	tb.Helper()
	root := repoRoot(tb)
	files := []string{
		filepath.Join(root, "services/platform/app/config.go"),
		filepath.Join(root, "services", service, "cmd", service, "main.go"),
	}
	call := regexp.MustCompile(`e\.(String|Required|Secret|Int|Duration|Level)\("([A-Z0-9_]+)"(?:,\s*"([^"]*)")?`)
	read = map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, m := range call.FindAllStringSubmatch(string(b), -1) {
			kind, name, def := m[1], m[2], m[3]
			read[name] = true
			if kind == "Secret" {
				read[name+"_FILE"] = true
			}
			if kind == "Required" {
				required = append(required, name)
			}
			if regexp.MustCompile(`^(https?|redis)://(users|catalog|orders|redis)[:/]`).MatchString(def) {
				composeDefaults = append(composeDefaults, name)
			}
		}
	}
	return read, required, composeDefaults
}

// secretsRequiredInProduction are the secrets production refuses to start
// without (app.LoadBase, the users and catalog configs).
var secretsRequiredInProduction = map[string][]string{
	"users":   {"INTERNAL_TOKEN", "DATABASE_PASSWORD", "JWT_PRIVATE_KEY"},
	"catalog": {"INTERNAL_TOKEN", "DATABASE_PASSWORD", "REDIS_PASSWORD"},
	"orders":  {"INTERNAL_TOKEN", "DATABASE_PASSWORD"},
}

// Variables the platform reads outside config.Env on Lambda.
var platformVariables = []string{"APP_ENV", "LOG_LEVEL", "GOMEMLIMIT", "AWS_ENDPOINT_URL_LAMBDA", "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"}

// deploy/aws/template.yaml is consistent: every route has a function of
// the service that serves its path, and none leads outside /api/; every
// variable a function must have is set and every variable set is one it
// reads; every secret a function or the proxy names exists and the
// function may read it; every function another invokes is one it may
// invoke.
func TestTemplateConsistent(t *testing.T) {
	tpl := readTemplate(t)
	fnOf := map[string]string{"users": "UsersFunction", "catalog": "CatalogFunction", "orders": "OrdersFunction"}
	globalEnv, _ := get(tpl.Globals, "Function", "Environment", "Variables").(map[string]any)
	secretExists := func(name string) bool {
		r, ok := tpl.Resources[name]
		return ok && r["Type"] == "AWS::SecretsManager::Secret"
	}

	// Every resource a value refers to exists (parameters and pseudo
	// parameters aside).
	params := map[string]bool{"VpcId": true, "PrivateSubnetIds": true, "SecretsExtensionLayerArn": true, "AdminEmail": true, "AlarmEmail": true, "AuroraMaxCapacity": true}
	for name, r := range tpl.Resources {
		for _, ref := range refs(r) {
			if _, ok := tpl.Resources[ref]; !ok && !params[ref] && !strings.HasPrefix(ref, "AWS") {
				t.Errorf("%s refers to %s, which the template does not define", name, ref)
			}
		}
	}

	var routes []string
	for service, fn := range fnOf {
		r := tpl.Resources[fn]
		if r == nil || r["Type"] != "AWS::Serverless::Function" {
			t.Fatalf("no function %s", fn)
		}
		props := r["Properties"].(map[string]any)
		if want := "../../build/lambda/" + service + ".zip"; props["CodeUri"] != want {
			t.Errorf("%s: CodeUri %v, want %s (make lambda)", fn, props["CodeUri"], want)
		}

		// Routes: each of the function's HttpApi events is a path of its
		// own service on the one HTTP API, in payload format 2.0.
		for name, ev := range get(props, "Events").(map[string]any) {
			switch get(ev, "Type") {
			case "HttpApi":
				path := fmt.Sprint(get(ev, "Properties", "Path"))
				routes = append(routes, path)
				if path != "/api/"+service && !strings.HasPrefix(path, "/api/"+service+"/") {
					t.Errorf("%s: route %s is not under /api/%s", fn, path, service)
				}
				if r := refs(get(ev, "Properties", "ApiId")); !slices.Equal(r, []string{"HttpApi"}) {
					t.Errorf("%s: route %s is on %v, not the HttpApi", fn, name, r)
				}
				if get(ev, "Properties", "PayloadFormatVersion") != "2.0" {
					t.Errorf("%s: route %s is not payload format 2.0", fn, name)
				}
			case "ScheduleV2":
				input := fmt.Sprint(get(ev, "Properties", "Input"))
				job := map[string]string{"users": `{"job":"purge"}`, "orders": `{"job":"reconcile"}`, "catalog": `{"job":"media-collect"}`}[service]
				if input != job {
					t.Errorf("%s: schedule %s sends %s, want %s", fn, name, input, job)
				}
			default:
				t.Errorf("%s: event %s of type %v", fn, name, get(ev, "Type"))
			}
		}

		// Variables.
		env := map[string]any{}
		for k, v := range globalEnv {
			env[k] = v
		}
		if own, ok := get(props, "Environment", "Variables").(map[string]any); ok {
			for k, v := range own {
				env[k] = v
			}
		}
		read, required, composeDefaults := readVariables(t, service)
		for _, k := range platformVariables {
			read[k] = true
		}
		for k := range env {
			base, isSecret := strings.CutSuffix(k, "_SECRET")
			if isSecret && !read[base] || !isSecret && !read[k] {
				t.Errorf("%s sets %s, which the %s service does not read", fn, k, service)
			}
		}
		for _, k := range append(required, composeDefaults...) {
			if _, ok := env[k]; !ok {
				t.Errorf("%s does not set %s (required, or its default names a container)", fn, k)
			}
		}
		for _, k := range secretsRequiredInProduction[service] {
			if _, ok := env[k+"_SECRET"]; !ok {
				t.Errorf("%s does not set %s_SECRET; production refuses to start without %s", fn, k, k)
			}
		}
		if env["APP_ENV"] != "production" {
			t.Errorf("%s: APP_ENV %v, want production", fn, env["APP_ENV"])
		}

		// Secrets: each exists, and the function's role may read it.
		var readable []string
		for _, p := range get(props, "Policies").([]any) {
			readable = append(readable, refs(get(p, "AWSSecretsManagerGetSecretValuePolicy", "SecretArn"))...)
		}
		for k, v := range env {
			if !strings.HasSuffix(k, "_SECRET") {
				continue
			}
			rs := refs(v)
			if len(rs) != 1 || !secretExists(rs[0]) {
				t.Errorf("%s: %s names %v, not a secret of the template", fn, k, rs)
				continue
			}
			if !slices.Contains(readable, rs[0]) {
				t.Errorf("%s reads %s but its role may not", fn, rs[0])
			}
		}

		// Invocations: each lambda:// URL names a function the role may
		// invoke.
		var invokable []string
		for _, p := range get(props, "Policies").([]any) {
			invokable = append(invokable, refs(get(p, "LambdaInvokePolicy", "FunctionName"))...)
		}
		for k, v := range env {
			s := fmt.Sprint(get(v, "Fn::Sub"))
			if !strings.HasPrefix(s, "lambda://") {
				continue
			}
			for _, target := range refs(v) {
				if !slices.Contains(invokable, target) {
					t.Errorf("%s: %s invokes %s, which its role may not", fn, k, target)
				}
			}
		}
	}
	sort.Strings(routes)
	for _, want := range []string{"/api/catalog/{proxy+}", "/api/orders", "/api/orders/{proxy+}", "/api/users", "/api/users/{proxy+}"} {
		if !slices.Contains(routes, want) {
			t.Errorf("no route %s (routes: %v)", want, routes)
		}
	}

	// RDS Proxy logs in with the services' secrets, and may read them.
	proxyRead := refs(get(tpl.Resources["DatabaseProxyRole"], "Properties", "Policies"))
	for _, a := range get(tpl.Resources["DatabaseProxy"], "Properties", "Auth").([]any) {
		for _, s := range refs(get(a, "SecretArn")) {
			if !secretExists(s) || !slices.Contains(proxyRead, s) {
				t.Errorf("the proxy logs in with %s, which is not a secret it may read", s)
			}
		}
	}
	if get(tpl.Resources["DatabaseProxy"], "Properties", "RequireTLS") != "true" {
		t.Errorf("the proxy does not require TLS")
	}
	for _, fn := range fnOf {
		url := fmt.Sprint(get(tpl.Resources[fn], "Properties", "Environment", "Variables", "DATABASE_URL", "Fn::Sub"))
		if !strings.Contains(url, "${DatabaseProxy.Endpoint}") || !strings.Contains(url, "sslmode=verify-full") {
			t.Errorf("%s: DATABASE_URL %s does not reach the proxy with verified TLS", fn, url)
		}
	}
}
