// Package config loads a service's configuration in the order every Atrium role uses:
// defaults set in code, then a YAML file (unknown keys are errors, so a typo never passes
// silently), then ATRIUM_* environment variables, then the caller's Validate.
//
// Environment names are derived from the yaml tags: a field tagged `yaml:"api_key"` inside
// a struct field tagged `yaml:"keys"` is set by ATRIUM_KEYS_API_KEY (with prefix "ATRIUM"),
// or read from the file named by ATRIUM_KEYS_API_KEY_FILE (for mounted secrets).
// Supported field kinds: string, bool, ints, uints, floats, time.Duration, []string
// (comma-separated) and nested structs. Safe for concurrent use: it keeps no state.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Validator is implemented by configs that can check themselves after loading.
type Validator interface {
	Validate() error
}

// Load fills dst (a pointer to a struct already holding defaults) from the YAML file at
// path (skipped when path is empty) and then from the environment given by lookup (use
// os.LookupEnv; nil means no environment). If dst implements Validator it is validated last.
func Load(dst any, path, prefix string, lookup func(string) (string, bool)) error {
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("config: read %s: %w", path, err)
		}
		if err := DecodeYAML(raw, dst); err != nil {
			return fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if lookup != nil {
		if err := ApplyEnv(dst, prefix, lookup); err != nil {
			return fmt.Errorf("config: environment: %w", err)
		}
	}
	if v, ok := dst.(Validator); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("config: invalid: %w", err)
		}
	}
	return nil
}

// DecodeYAML decodes raw into dst, rejecting keys that dst does not declare.
// An empty document leaves dst unchanged.
func DecodeYAML(raw []byte, dst any) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(dst); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// ApplyEnv overrides fields of dst (pointer to struct) from environment variables named
// PREFIX_PATH where PATH joins the upper-cased yaml tags with underscores.
func ApplyEnv(dst any, prefix string, lookup func(string) (string, bool)) error {
	v := reflect.ValueOf(dst)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: ApplyEnv needs a pointer to a struct, got %T", dst)
	}
	return applyEnv(v.Elem(), strings.ToUpper(prefix), lookup)
}

var durationType = reflect.TypeOf(time.Duration(0))

func applyEnv(v reflect.Value, prefix string, lookup func(string) (string, bool)) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "-" {
			continue
		}
		if tag == "" {
			tag = strings.ToLower(f.Name)
		}
		name := prefix + "_" + strings.ToUpper(tag)
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			if err := applyEnv(fv, name, lookup); err != nil {
				return err
			}
			continue
		}
		raw, ok, err := lookupValue(name, lookup)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := setValue(fv, raw); err != nil {
			return fmt.Errorf("%s=%q: %w", name, raw, err)
		}
	}
	return nil
}

// lookupValue returns the value of the variable name or, when name_FILE is set instead, the
// contents of that file without its trailing line break: the way Kubernetes and Docker hand
// secrets to a process without putting them in its environment. Setting both is an error,
// since one of them would be silently ignored.
func lookupValue(name string, lookup func(string) (string, bool)) (string, bool, error) {
	raw, ok := lookup(name)
	file, fromFile := lookup(name + "_FILE")
	switch {
	case ok && fromFile:
		return "", false, fmt.Errorf("both %s and %s_FILE are set; set one", name, name)
	case !fromFile:
		return raw, ok, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", false, fmt.Errorf("%s_FILE: %w", name, err)
	}
	return strings.TrimRight(string(b), "\r\n"), true, nil
}

func setValue(fv reflect.Value, raw string) error {
	if fv.Type() == durationType {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, fv.Type().Bits())
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(raw, 10, fv.Type().Bits())
		if err != nil {
			return err
		}
		fv.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(raw, fv.Type().Bits())
		if err != nil {
			return err
		}
		fv.SetFloat(n)
	case reflect.Slice:
		if fv.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported slice type %s", fv.Type())
		}
		var parts []string
		for _, p := range strings.Split(raw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		fv.Set(reflect.ValueOf(parts))
	default:
		return fmt.Errorf("unsupported field type %s", fv.Type())
	}
	return nil
}

// EnvNames lists every environment variable ApplyEnv reads for the struct type of dst (a
// struct or a pointer to one) under prefix, sorted, without the _FILE variants (each name
// also accepts NAME_FILE). Deployment checks use it to prove that every ATRIUM_* variable a
// manifest sets is a real setting, not a typo the role would ignore.
func EnvNames(dst any, prefix string) []string {
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if !f.IsExported() || tag == "-" {
				continue
			}
			if tag == "" {
				tag = strings.ToLower(f.Name)
			}
			name := prefix + "_" + strings.ToUpper(tag)
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type != durationType:
				walk(f.Type, name)
			case f.Type.Kind() == reflect.Map, f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() != reflect.String:
				// Not settable from the environment (setValue refuses them).
			default:
				names = append(names, name)
			}
		}
	}
	walk(t, strings.ToUpper(prefix))
	sort.Strings(names)
	return names
}
