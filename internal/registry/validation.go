package registry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Messages shared by many validations, worded as upstream words them.
const (
	isNegativeErrorMsg     = apimachineryvalidation.IsNegativeErrorMsg // "must be greater than or equal to 0"
	isNotPositiveErrorMsg  = "must be greater than zero"
	fieldImmutableErrorMsg = apimachineryvalidation.FieldImmutableErrorMsg // "field is immutable"
	fileModeErrorMsg       = "must be a number between 0 and 0777 (octal), both inclusive"
	maxInt32               = 1<<31 - 1
)

// validateNonnegative checks that value is >= 0.
func validateNonnegative(value int64, fldPath *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateNonnegativeField(value, fldPath)
}

// validatePositive checks that value is > 0.
func validatePositive(value int64, fldPath *field.Path) field.ErrorList {
	if value <= 0 {
		return field.ErrorList{field.Invalid(fldPath, value, isNotPositiveErrorMsg)}
	}
	return nil
}

// validateImmutable reports field.Invalid "field is immutable" when newVal differs from oldVal.
func validateImmutable(newVal, oldVal any, fldPath *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateImmutableField(newVal, oldVal, fldPath)
}

// messagesAt turns the messages of a util/validation check into Invalid errors at fldPath.
func messagesAt(fldPath *field.Path, value any, msgs []string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range msgs {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

func validateDNS1123Label(value string, fldPath *field.Path) field.ErrorList {
	return messagesAt(fldPath, value, validation.IsDNS1123Label(value))
}

func validateDNS1123Subdomain(value string, fldPath *field.Path) field.ErrorList {
	return messagesAt(fldPath, value, validation.IsDNS1123Subdomain(value))
}

func validateQualifiedName(value string, fldPath *field.Path) field.ErrorList {
	return messagesAt(fldPath, value, validation.IsQualifiedName(value))
}

// validateLabelSelector checks a label selector strictly (label values must be valid).
func validateLabelSelector(sel *metav1.LabelSelector, fldPath *field.Path) field.ErrorList {
	return metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, fldPath)
}

// validateLabelName checks a label key; taint, toleration and topology keys follow the same rule.
func validateLabelName(name string, fldPath *field.Path) field.ErrorList {
	return metav1validation.ValidateLabelName(name, fldPath)
}

// validateLabels checks label keys and values (selector maps, template labels, node selectors).
func validateLabels(labels map[string]string, fldPath *field.Path) field.ErrorList {
	return metav1validation.ValidateLabels(labels, fldPath)
}

// validateObjectName applies a kind's name rule when it is stricter than the DNS subdomain rule
// the API server checks for most kinds (it knows the stricter rules of namespaces and services
// itself). Names that already fail the generic rule are left to the API server so the client
// does not get the same complaint twice.
func validateObjectName(name string, nameFn apimachineryvalidation.ValidateNameFunc) field.ErrorList {
	if name == "" || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return nil
	}
	return messagesAt(field.NewPath("metadata", "name"), name, nameFn(name, false))
}

// validatePortNumOrName checks a port given as a number or as an IANA service name.
func validatePortNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	switch port.Type {
	case intstr.Int:
		return messagesAt(fldPath, port.IntValue(), validation.IsValidPortNum(port.IntValue()))
	case intstr.String:
		return messagesAt(fldPath, port.StrVal, validation.IsValidPortName(port.StrVal))
	default:
		return field.ErrorList{field.InternalError(fldPath, fmt.Errorf("unknown type: %v", port.Type))}
	}
}

// validateIntOrPercent checks a non-negative integer or a percentage like "25%".
func validateIntOrPercent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	switch v.Type {
	case intstr.String:
		return messagesAt(fldPath, v, validation.IsValidPercent(v.StrVal))
	case intstr.Int:
		return validateNonnegative(int64(v.IntValue()), fldPath)
	default:
		return field.ErrorList{field.Invalid(fldPath, v, "must be an integer or percentage (e.g '5%')")}
	}
}

// percentValue returns the number of a valid percentage string.
func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	return n, err == nil
}

// intOrPercentValue is the number in v, whether written as an integer or a percentage.
func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

// validateNotMoreThan100Percent rejects percentages above 100%.
func validateNotMoreThan100Percent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if n, ok := percentValue(v); ok && n > 100 {
		return field.ErrorList{field.Invalid(fldPath, v, "must not be greater than 100%")}
	}
	return nil
}

// validateEnum reports Required when value is empty and NotSupported when it is not one of valid.
func validateEnum[T ~string](value T, valid []T, fldPath *field.Path) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if slices.Contains(valid, value) {
		return nil
	}
	return field.ErrorList{field.NotSupported(fldPath, value, valid)}
}

// validateOptionalEnum is validateEnum for fields where the empty value is allowed.
func validateOptionalEnum[T ~string](value T, valid []T, fldPath *field.Path) field.ErrorList {
	if value == "" {
		return nil
	}
	return validateEnum(value, valid, fldPath)
}

// withoutError drops the errors of one type at one path, where a more specific rule reports
// the same problem in its own words.
func withoutError(errs field.ErrorList, t field.ErrorType, fldPath *field.Path) field.ErrorList {
	var kept field.ErrorList
	for _, e := range errs {
		if e.Type != t || e.Field != fldPath.String() {
			kept = append(kept, e)
		}
	}
	return kept
}
